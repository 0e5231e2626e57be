"""The inspection core without a cluster: configuration, excludes, scoring, not-run
reasons and static mode, over snapshots built from objects."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.inspect import (
    InspectConfig,
    InspectConfigError,
    Severity,
    Snapshot,
    build_document,
    run_checks,
)
from kubeops.inspect.config import SKIP_ANNOTATION, parse_inspect_config
from kubeops.inspect.model import Finding, ObjectRef
from kubeops.inspect.runner import assemble_report
from kubeops.inspect.scoring import Examined, grade, score


def node(name: str, ready: str = "True", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, **meta},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def live(*objects: dict[str, Any]) -> Snapshot:
    snapshot = Snapshot.from_objects(objects, name="c1")
    snapshot.static = False
    return snapshot


def findings(snapshot: Snapshot, config: InspectConfig | None = None) -> list[tuple[str, str]]:
    result = run_checks(snapshot, config or InspectConfig())
    return [(f.check, f.object.name) for f in result.findings]


def test_a_check_flags_only_the_failing_object() -> None:
    found = findings(live(node("a", "False"), node("b")))
    assert ("node-not-ready", "a") in found
    assert ("node-not-ready", "b") not in found


def test_excludes_by_check_glob_name_and_labels() -> None:
    snapshot = live(node("a", "False"), node("edge-1", "False", labels={"tier": "edge"}))
    config = parse_inspect_config({"excludes": [{"checks": ["node-*"], "labels": "tier=edge"}]})
    assert [n for c, n in findings(snapshot, config) if c == "node-not-ready"] == ["a"]
    config = parse_inspect_config({"excludes": [{"names": ["a"]}]})
    assert [n for c, n in findings(snapshot, config) if c == "node-not-ready"] == ["edge-1"]


def test_an_object_excludes_itself_with_the_annotation() -> None:
    snapshot = live(
        node("a", "False", annotations={SKIP_ANNOTATION: "node-not-ready, other"}),
        node("b", "False", annotations={SKIP_ANNOTATION: "*"}),
        node("c", "False", annotations={SKIP_ANNOTATION: "node-cordoned"}),
    )
    assert [n for c, n in findings(snapshot) if c == "node-not-ready"] == ["c"]


def test_severity_override_and_disabled_check() -> None:
    snapshot = live(node("a", "False"))
    config = parse_inspect_config({"checks": {"node-not-ready": {"severity": "info"}}})
    result = run_checks(snapshot, config)
    assert [f.severity for f in result.findings if f.check == "node-not-ready"] == [Severity.INFO]
    config = parse_inspect_config({"checks": {"node-not-ready": {"enabled": False}}})
    assert "node-not-ready" not in run_checks(snapshot, config).checks_run


def test_thresholds_are_applied() -> None:
    old = node("old")
    old["status"]["nodeInfo"] = {"kubeletVersion": "v1.33.0"}
    snapshot = live(old)
    snapshot.server_version = "v1.37.2"
    assert ("node-version-skew", "old") in findings(snapshot)
    config = parse_inspect_config(
        {"checks": {"node-version-skew": {"thresholds": {"max_minor_skew": 4}}}}
    )
    assert ("node-version-skew", "old") not in findings(snapshot, config)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"chekcs": {}}, "unknown key(s) chekcs"),
        ({"checks": {"node-not-redy": {}}}, "did you mean node-not-ready?"),
        ({"checks": {"node-not-ready": {"severity": "fatal"}}}, "unknown severity 'fatal'"),
        (
            {"checks": {"node-version-skew": {"thresholds": {"skew": 1}}}},
            "not a threshold of this check (it has: max_minor_skew)",
        ),
        (
            {"checks": {"node-version-skew": {"thresholds": {"max_minor_skew": "2"}}}},
            "expected a whole number, got a string",
        ),
        ({"excludes": [{"reason": "x"}]}, "excludes nothing"),
        ({"excludes": [{"labels": "a in (b"}]}, "excludes[0].labels"),
        ({"settings": {"colour": []}}, "settings.colour: unknown setting"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_bad_configuration_names_the_key(document: Any, message: str) -> None:
    with pytest.raises(InspectConfigError, match=r"inspect config cfg\.yaml") as raised:
        parse_inspect_config(document, "cfg.yaml")
    assert message in str(raised.value)


def test_missing_resource_makes_checks_not_run_with_the_reason() -> None:
    snapshot = Snapshot(cluster="c1")
    snapshot.missing["nodes"] = "forbidden to list nodes: nope"
    result = run_checks(snapshot, parse_inspect_config({"checks": {}}))
    reasons = {n.check: n.reason for n in result.not_run}
    assert reasons["node-not-ready"] == "forbidden to list nodes: nope"
    assert "node-not-ready" not in result.checks_run


def test_a_failing_check_is_reported_not_run_and_others_still_run() -> None:
    broken = node("a", "False")
    broken["status"]["conditions"] = 5  # not a list: reading it raises
    result = run_checks(live(broken, node("b", "False")), InspectConfig())
    assert any(
        n.check == "node-not-ready" and "the check failed" in n.reason for n in result.not_run
    )
    assert "node-cordoned" in result.checks_run


def test_static_mode_runs_only_static_checks() -> None:
    result = run_checks(Snapshot.from_objects([node("a", "False")]), InspectConfig())
    assert "node-not-ready" not in result.checks_run
    assert "deprecated-api-version" in result.checks_run  # the static ones did run


def ref(name: str, namespace: str | None = "ns") -> ObjectRef:
    return ObjectRef("v1", "Pod", namespace, name)


def finding(check: str, severity: Severity, name: str, category: str = "pods") -> Finding:
    return Finding(check, severity, category, "c1", ref(name), "m")


def test_score_is_the_weighted_share_that_passed() -> None:
    examined = [
        Examined("w", "pods", Severity.WARNING, {"ns": 10}),
        Examined("e", "pods", Severity.ERROR, {"ns": 10}),
    ]
    assert score(examined, []).value == 100
    # one warning lost of 10*1 + 10*3 = 40
    assert score(examined, [finding("w", Severity.WARNING, "p1")]).value == round(100 * 39 / 40)
    # an error finding caps the score at 89 even when the share is higher
    many = [Examined("e", "pods", Severity.ERROR, {"ns": 1000})]
    assert score(many, [finding("e", Severity.ERROR, "p1")]).value == 89
    critical = [Examined("c", "pods", Severity.CRITICAL, {"ns": 1000})]
    assert score(critical, [finding("c", Severity.CRITICAL, "p1")]).grade == "D"
    # several findings of one check on one object count once
    twice = [finding("w", Severity.WARNING, "p1"), finding("w", Severity.WARNING, "p1")]
    assert score(examined, twice).value == round(100 * 39 / 40)


def test_score_by_namespace_and_category() -> None:
    examined = [Examined("w", "pods", Severity.WARNING, {"a": 2, "b": 2})]
    found = [finding("w", Severity.WARNING, "p1"), finding("w", Severity.WARNING, "p2")]
    found = [
        Finding(f.check, f.severity, f.category, f.cluster, ref(f.object.name, "a"), "m")
        for f in found
    ]
    assert score(examined, found, lambda c, ns: ns == "a").value == 0
    assert score(examined, found, lambda c, ns: ns == "b").value == 100
    assert score(examined, found, lambda c, ns: c == "nodes").value == 100


@pytest.mark.parametrize(
    ("value", "letter"),
    [(100, "A"), (90, "A"), (89, "B"), (70, "C"), (60, "D"), (59, "F"), (0, "F")],
)
def test_grades(value: int, letter: str) -> None:
    assert grade(value) == letter


def test_document_has_the_documented_schema() -> None:
    result = run_checks(live(node("a", "False"), node("b")), InspectConfig())
    document = build_document(assemble_report([result], InspectConfig(), "live"))
    assert {
        "schema",
        "generated",
        "mode",
        "score",
        "grade",
        "summary",
        "clusters",
        "findings",
        "not_run",
        "checks",
        "scoring",
    } <= set(document)
    finding_json = next(f for f in document["findings"] if f["check"] == "node-not-ready")
    assert finding_json["object"] == {
        "apiVersion": "v1",
        "kind": "Node",
        "namespace": None,
        "name": "a",
    }
    assert {"check", "severity", "category", "cluster", "object", "message"} <= set(finding_json)
    cluster = document["clusters"][0]
    assert cluster["categories"]["nodes"]["findings"] >= 1
    assert document["summary"]["by_severity"]["critical"] == 1
    assert document["grade"] == "D"
