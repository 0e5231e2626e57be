"""The committed models are exactly what the generator makes from the pinned API server."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import pytest

import kubeops.models.generated

REPO = Path(__file__).resolve().parents[2]
COMMITTED = Path(kubeops.models.generated.__file__).parent


def test_generated_models_match_the_pinned_api_servers_openapi(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate_models.py"), "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    fresh = {path.name: path.read_text() for path in sorted(out.glob("*.py"))}
    committed = {path.name: path.read_text() for path in sorted(COMMITTED.glob("*.py"))}
    hint = (
        "the models drifted from the pinned server: run .venv/bin/python scripts/generate_models.py"
    )
    assert sorted(fresh) == sorted(committed), hint
    for name, source in fresh.items():
        if source != committed[name]:
            diff = difflib.unified_diff(
                committed[name].splitlines(),
                source.splitlines(),
                f"committed/{name}",
                f"generated/{name}",
                lineterm="",
            )
            excerpt = "\n".join(list(diff)[:40])
            pytest.fail(f"{hint}\n{excerpt}", pytrace=False)
