"""docs/api-coverage.md is regenerated from the facade and docs/api-surface.tsv.

Proves the committed table matches what the facade defines right now (so it
cannot claim a function voipkit lacks), and that the surface lists the
manual's 142 functions and 46 callbacks.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("api_coverage", ROOT / "scripts/api_coverage.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_surface_has_the_manuals_142_functions_and_46_callbacks() -> None:
    with (ROOT / "docs/api-surface.tsv").open(newline="") as f:
        kinds = [row["kind"] for row in csv.DictReader(f, delimiter="\t")]
    assert kinds.count("function") == 142
    assert kinds.count("callback") == 46


def test_coverage_doc_is_current() -> None:
    gen = _load_generator()
    text = gen.render()
    current = (ROOT / "docs/api-coverage.md").read_text()
    if current != text:
        (ROOT / "docs/api-coverage.md").write_text(text)
    assert current == text, "docs/api-coverage.md was stale; it has been rewritten: commit it"
