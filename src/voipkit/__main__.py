"""Command line: ``python -m voipkit demo`` and ``python -m voipkit agent ...``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["agent"]:
        # the agent parses its own options so that every usage error is one line (exit 2)
        from voipkit.agent import main as agent_main

        return agent_main(args_list[1:])
    parser = argparse.ArgumentParser(prog="voipkit", description="voipkit command line")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the manual's P2P sample: a real call on loopback")
    demo.add_argument("--out", default="demo-output",
                      help="where the recording is left (default: demo-output/)")
    sub.add_parser("agent", help="a headless, scriptable SIP user agent "
                                 "(voipkit agent --help; docs/agent.md)")
    args = parser.parse_args(args_list)
    if args.command == "demo":
        from voipkit.demo import main as demo_main

        return demo_main(args.out)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
