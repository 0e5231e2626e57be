"""The committed check catalogue page is what the checks declare, and every check is
fully described."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from kubeops.inspect import catalog
from kubeops.inspect.model import CATEGORIES

REPO = Path(__file__).resolve().parents[3]


def test_docs_match_the_catalogue() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen", REPO / "scripts" / "generate_check_docs.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (REPO / "docs" / "inspect-checks.md").read_text()
    assert committed == module.render(), "run scripts/generate_check_docs.py"


def test_every_check_is_described() -> None:
    checks = catalog()
    assert len(checks) >= 50
    for chk in checks.values():
        assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)+", chk.id), chk.id
        assert chk.category in CATEGORIES
        assert chk.title
        assert chk.title[0].isupper()
        assert len(chk.rationale) > 20, chk.id
        assert len(chk.remediation) > 10, chk.id
