"""The layer rules of DESIGN.md hold for every module under src/voipkit.

Proves, by reading each module's imports with ``ast`` (so a lazy import inside
a function counts too):
- each package imports only from the layers below it
  (base -> sdp -> sip | media -> aio -> api -> compat; testing is imported by nothing);
- the sans-IO layers (base, sdp, sip, media) import none of asyncio, socket, ssl,
  threading, selectors, time or random (base.clock may read time; base.ids may use secrets);
- the checker itself catches a violation (a planted bad import fails it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "voipkit"

# package -> voipkit packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "sdp": {"base"},
    "sip": {"base"},
    "media": {"base", "sdp"},
    "aio": {"base", "sdp", "sip", "media"},
    "api": {"base", "sdp", "sip", "media", "aio"},
    "compat": {"api", ""},  # "" = the top-level voipkit package re-exports
    "testing": {"base", "sdp", "sip", "media", "aio", "api", "compat", ""},
    # `voipkit agent`: an application of the public api (aio only for the loop choice)
    "agent": {"api", "aio", ""},
    "data": set(),
    "": {"base", "sdp", "sip", "media", "aio", "api", "agent"},  # __init__, __main__, demo
}
SANS_IO = {"base", "sdp", "sip", "media"}
IO_MODULES = {"asyncio", "socket", "ssl", "threading", "selectors", "time", "random",
              "concurrent", "multiprocessing", "subprocess"}
EXEMPT = {("base", "clock.py", "time")}


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else ""


def _imports(tree: ast.AST, module_parts: list[str]) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module_parts[: len(module_parts) - node.level]
                names.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                names.append(node.module)
    return names


def violations(path: Path, source: str) -> list[str]:
    pkg = _package_of(path)
    rel = path.relative_to(SRC.parent)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    found: list[str] = []
    for name in _imports(ast.parse(source), parts):
        top = name.split(".")[0]
        if top == "voipkit":
            sub = name.split(".")[1] if "." in name else ""
            if (SRC / f"{sub}.py").exists():  # a top-level module (demo, __main__)
                sub = ""
            if sub != pkg and sub not in ALLOWED[pkg]:
                found.append(f"{rel}: {pkg or 'voipkit'} must not import {name}")
        elif pkg in SANS_IO and top in IO_MODULES and (pkg, path.name, top) not in EXEMPT:
            found.append(f"{rel}: sans-IO layer {pkg} must not import {name}")
    return found


def test_every_module_respects_the_layers() -> None:
    problems: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        problems += violations(path, path.read_text(encoding="utf-8"))
    assert problems == []


@pytest.mark.parametrize(
    ("relpath", "source"),
    [
        ("sip/bad.py", "import asyncio\n"),
        ("sip/bad.py", "from voipkit.sdp import parse\n"),
        ("sdp/bad.py", "from voipkit.sip.message import Request\n"),
        ("media/bad.py", "def f():\n    import socket\n"),
        ("aio/bad.py", "from voipkit.api import Phone\n"),
        ("compat/portsip/bad.py", "from voipkit.sip import parse_message\n"),
        ("base/ids.py", "import time\n"),
        ("sip/bad.py", "from ..aio import x\n"),
        ("api/bad.py", "import voipkit.testing\n"),
    ],
)
def test_checker_catches_a_planted_violation(relpath: str, source: str) -> None:
    assert violations(SRC / relpath, source)


def test_checker_accepts_allowed_imports() -> None:
    assert violations(SRC / "sip/ok.py", "from voipkit.base.ids import IdSource\nimport re\n") == []
    assert violations(SRC / "base/clock.py", "import time\n") == []
    assert violations(SRC / "aio/ok.py", "import asyncio\nfrom voipkit.sip import ua\n") == []
