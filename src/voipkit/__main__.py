"""Command line: ``python -m voipkit demo`` (and, later, ``voipkit agent``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voipkit", description="voipkit command line")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="two user agents exchange OPTIONS over UDP, TCP and TLS")
    demo.add_argument("-q", "--quiet", action="store_true", help="print first lines only")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from voipkit.demo import main as demo_main

        return demo_main(verbose=not args.quiet)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
