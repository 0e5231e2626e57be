"""examples/policy/ci-gate.sh, the guide's CI gate, run as a pipeline runs it: the
release is stopped for its quota, its leaked password and its CVSS 8.1 image, and
the fixed release passes."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "policy"
PASSWORD = "Tq8vZr3kLw9pXe2N"  # the leaked one in examples/policy/k8s/web.yaml


def test_the_gate_stops_the_release_then_passes_the_fix(tmp_path: Path) -> None:
    kubeops = Path(sys.executable).parent / "kubeops"
    done = subprocess.run(
        ["bash", str(EXAMPLE / "ci-gate.sh")],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "KUBEOPS": str(kubeops), "REPORTS": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    release, fixed = done.stdout.split("== fixed:", 1)
    assert "== release: exit 2" in release
    assert f"junit report: {tmp_path / 'release.xml'}" in done.stderr
    rows = [line.split()[:4] for line in release.splitlines()]
    assert ["k8s/web.yaml:8", "ConfigMap/shop/web-config", "secrets", "Deny"] in rows
    assert ["k8s/web.yaml:24", "Deployment/shop/web", "vulnerabilities", "Deny"] in rows
    assert 'password in a URL in data key "DATABASE_URL"' in release
    assert "ResourceQuota shop/shop-quota: requests.cpu would be 2500m" in release
    assert "CVE-2024-6387 (HIGH; CVSS 8.1" in release
    assert "5 objects, 4 policies: 8 denied (3 objects)" in release
    assert "5 objects, 4 policies: no violations" in fixed
    assert "exit 0" in fixed
    assert PASSWORD not in done.stdout + done.stderr
    # The JUnit reports a CI system shows: failures for the release, none for the fix.
    failures = ET.parse(tmp_path / "release.xml").getroot().findall(".//failure")
    assert len(failures) == 4  # one per policy and object
    assert PASSWORD not in (tmp_path / "release.xml").read_text()
    assert ET.parse(tmp_path / "fixed.xml").getroot().findall(".//failure") == []
