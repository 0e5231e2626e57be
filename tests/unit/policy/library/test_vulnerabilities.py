"""Scanner reports (Trivy's and Grype's JSON, hand-made in their real formats) and
the vulnerability gate: thresholds, allow-list expiry, which containers a report
gates, and a report whose image no manifest uses."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from kubeops.policy.library import load, unmatched_violations
from kubeops.policy.library.vulnerabilities import Gate, image_matches
from kubeops.policy.scan import ScanError, ScanReport, load_scan, parse_scan

from ._build import TODAY, container, deployment, pod_spec, run

DATA = Path(__file__).parents[3] / "data" / "policy" / "library"
TRIVY = load_scan(DATA / "trivy-nginx.json")
GRYPE = load_scan(DATA / "grype-api.json")
NGINX_DIGEST = "sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac"


def test_trivy_report() -> None:
    assert (TRIVY.scanner, TRIVY.artifact) == ("trivy", "nginx:1.25.3")
    assert f"nginx@{NGINX_DIGEST}" in TRIVY.references
    by_id = {v.id: v for v in TRIVY.vulnerabilities}
    assert len(by_id) == 6
    zlib = by_id["CVE-2023-45853"]
    assert (zlib.severity, zlib.cvss, zlib.package, zlib.fixed) == ("CRITICAL", 9.8, "zlib1g", "")
    assert by_id["CVE-2024-2961"].cvss == 7.3  # only a Red Hat score: still the highest given


def test_grype_report() -> None:
    assert (GRYPE.scanner, GRYPE.artifact) == ("grype", "ghcr.io/acme/api:2.4.1")
    by_id = {v.id: v for v in GRYPE.vulnerabilities}
    ghsa = by_id["GHSA-qppj-fm5r-hxr3"]
    # The GHSA's own score is 5.3; its related CVE's NVD score is 7.5: the highest counts.
    assert (ghsa.severity, ghsa.cvss, ghsa.aliases) == ("HIGH", 7.5, ("CVE-2023-44487",))
    assert by_id["CVE-2023-5363"].cvss == 7.5
    assert by_id["CVE-2005-2541"].severity == "NEGLIGIBLE"
    assert by_id["CVE-2024-24790"].fixed == "1.21.11, 1.22.4"


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object, not a list"),
        ('{"hello": 1}', "neither Trivy's JSON"),
        ('{"SchemaVersion": 1, "Results": []}', "Trivy SchemaVersion 1 is not supported"),
        ('{"SchemaVersion": 2, "Results": []}', "Trivy report without ArtifactName"),
        (
            '{"SchemaVersion": 2, "ArtifactName": "a:1", "Results": {"x": 1}}',
            "Results is a scalar, not a list",
        ),
        (
            '{"matches": [], "source": {"target": {}}}',
            "Grype report without source.target.userInput",
        ),
        (
            '{"matches": [{"vulnerability": {}}], "source": {"target": {"userInput": "a:1"}}}',
            "matches[0].vulnerability has no id",
        ),
    ],
)
def test_bad_reports_are_one_line_naming_the_file(tmp_path: Path, content: str, cause: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(content)
    with pytest.raises(ScanError) as caught:
        load_scan(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"scan report {path}: ")
    assert cause in message


def test_missing_report(tmp_path: Path) -> None:
    with pytest.raises(ScanError, match=r"scan report .*missing\.json: cannot read it"):
        load_scan(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("image", "matches"),
    [
        ("nginx:1.25.3", True),
        ("docker.io/library/nginx:1.25.3", True),
        ("index.docker.io/library/nginx:1.25.3", True),
        (f"nginx@{NGINX_DIGEST}", True),
        (f"docker.io/library/nginx:1.25.3@{NGINX_DIGEST}", True),
        ("nginx@sha256:" + "0" * 64, False),
        ("nginx:1.25", False),
        ("nginx", False),
        ("registry.example.com/nginx:1.25.3", False),
    ],
)
def test_image_matching(image: str, matches: bool) -> None:
    assert image_matches(image, TRIVY) is matches


def blocked(report: ScanReport, gate: Gate) -> set[str]:
    return {v.id for v in report.vulnerabilities if gate.blocks(v)}


def test_thresholds() -> None:
    # The default: CRITICAL, or a CVSS score above 7.0 (7.0 itself passes).
    assert blocked(TRIVY, Gate()) == {
        "CVE-2023-45853",
        "CVE-2023-44487",
        "CVE-2024-2961",
        "CVE-2023-50387",
    }
    assert blocked(TRIVY, Gate("HIGH", None)) == {
        "CVE-2023-45853",
        "CVE-2023-44487",
        "CVE-2024-2961",
    }
    assert blocked(TRIVY, Gate("CRITICAL", None, ignore_unfixed=True)) == set()
    assert blocked(GRYPE, Gate("LOW", None)) == {v.id for v in GRYPE.vulnerabilities} - {
        "CVE-2005-2541"
    }


def gated(
    image: str, settings: dict[str, object] | None = None, today: datetime.date = TODAY
) -> list[str]:
    obj = deployment(pod_spec(container(image=image)))
    return [
        v.message
        for v in run("vulnerabilities", obj, settings=settings, scans=[TRIVY, GRYPE], today=today)
    ]


def test_gate_on_the_matching_container() -> None:
    (message,) = gated("docker.io/library/nginx:1.25.3")
    assert message.startswith(
        'container "app" image "docker.io/library/nginx:1.25.3": 4 vulnerabilities at or above '
        "the gate (severity >= CRITICAL or CVSS > 7.0) in trivy report "
    )
    assert "CVE-2023-45853 (CRITICAL; CVSS 9.8; zlib1g 1:1.2.13.dfsg-1, no fix)" in message
    assert (
        "CVE-2023-44487 (HIGH; CVSS 7.5; libnghttp2-14 1.52.0-1, fixed in 1.52.0-1+deb12u1)"
        in message
    )
    assert gated("registry.example.com/shop/app:1.4.2") == []  # no report for it


def test_allow_list_and_expiry() -> None:
    allow = [
        {"id": "CVE-2023-45853", "expires": "2027-01-31", "reason": "minizip is not shipped"},
        {"id": "CVE-2023-44487", "expires": "2026-11-30", "reason": "HTTP/2 off"},
        {"id": "CVE-2024-2961"},
        {"id": "CVE-2023-50387"},
    ]
    (message,) = gated("nginx:1.25.3", {"allow": allow})
    assert message.startswith('container "app" image "nginx:1.25.3": 1 vulnerability at or above')
    assert "CVE-2023-44487 (HIGH" in message
    assert message.endswith(
        "; the allow-list entry for CVE-2023-44487 expired on 2026-11-30 and no longer allows it"
    )
    # On the last day it still allows; everything passes.
    assert gated("nginx:1.25.3", {"allow": allow}, today=datetime.date(2026, 11, 30)) == []
    # After the other entry's date, both block.
    later = gated("nginx:1.25.3", {"allow": allow}, today=datetime.date(2027, 2, 1))[0]
    assert later.count("no longer allows it") == 2


def test_allow_by_alias() -> None:
    settings = {
        "severity": "HIGH",
        "cvssAbove": None,
        "allow": [{"id": "CVE-2023-44487"}, {"id": "CVE-2023-5363"}],
    }
    (message,) = gated("ghcr.io/acme/api:2.4.1", settings)
    assert "1 vulnerability" in message
    assert "CVE-2024-24790" in message
    assert "GHSA-qppj-fm5r-hxr3" not in message  # allowed through its CVE alias


def test_report_no_manifest_uses_still_gates() -> None:
    policies = load([], [TRIVY, GRYPE], today=TODAY)
    found = unmatched_violations(policies, ["nginx:1.25.3", "registry.example.com/shop/app:1"])
    assert [(v.policy, v.subject, str(v.location)) for v in found] == [
        ("vulnerabilities", "image ghcr.io/acme/api:2.4.1", GRYPE.source)
    ]
    assert found[0].denies
    assert "(used by no reviewed manifest)" in found[0].message
    assert unmatched_violations(policies, ["ghcr.io/acme/api:2.4.1", "nginx:1.25.3"]) == []


def test_parse_scan_from_a_decoded_document() -> None:
    document = json.loads((DATA / "trivy-nginx.json").read_text())
    assert parse_scan(document, "x.json").vulnerabilities == TRIVY.vulnerabilities
