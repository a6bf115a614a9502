from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_kinds_table_matches_the_catalog() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen_kinds_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "docs" / "kinds.md").read_text()
    assert committed == module.render(), "docs/kinds.md is stale: run scripts/gen_kinds_doc.py"
