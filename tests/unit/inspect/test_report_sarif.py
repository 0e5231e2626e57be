"""SARIF 2.1.0: the structure code-scanning tools require, checked against the key
points of the schema (required properties, enums, cross-references)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import kubeops
from kubeops.inspect.report import render
from kubeops.inspect.report.sample import sample_document
from kubeops.inspect.report.sarif import level

LEVELS = {"none", "note", "warning", "error"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return sample_document()


@pytest.fixture(scope="module")
def log(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(render(doc, "sarif"))
    return result


def _message(value: Any) -> None:
    """A SARIF message object: text is required (we never use message ids)."""
    assert isinstance(value, dict)
    assert isinstance(value.get("text"), str)
    assert value["text"]


def test_log_envelope(log: dict[str, Any]) -> None:
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list)
    assert len(log["runs"]) == 1


def test_tool_driver_and_rules(doc: dict[str, Any], log: dict[str, Any]) -> None:
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "kubeops inspect"
    assert driver["version"] == kubeops.__version__
    rules = driver["rules"]
    assert [r["id"] for r in rules] == list(doc["checks"])
    assert len({r["id"] for r in rules}) == len(rules)
    for rule in rules:
        check = doc["checks"][rule["id"]]
        assert rule["shortDescription"] == {"text": check["title"]}
        assert rule["fullDescription"] == {"text": check["rationale"]}
        assert rule["help"]["text"] == check["remediation"]
        assert rule["defaultConfiguration"]["level"] == level(check["severity"])
        assert rule["defaultConfiguration"]["level"] in LEVELS


def test_results_reference_their_rules(doc: dict[str, Any], log: dict[str, Any]) -> None:
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == len(doc["findings"])
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in LEVELS
        _message(result["message"])
        (location,) = result["locations"]
        (logical,) = location["logicalLocations"]
        assert logical["kind"] == "resource"
        assert logical["fullyQualifiedName"].count("/") == 3
        for value in result["partialFingerprints"].values():
            assert isinstance(value, str)


def test_result_levels_and_locations_match_the_findings(
    doc: dict[str, Any], log: dict[str, Any]
) -> None:
    results = log["runs"][0]["results"]
    expected = sorted(
        (
            f["check"],
            level(f["severity"]),
            f"{f['cluster']}/{f['object']['namespace'] or ''}/{f['object']['kind']}/{f['object']['name']}",
            f["message"],
        )
        for f in doc["findings"]
    )
    actual = sorted(
        (
            r["ruleId"],
            r["level"],
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            r["message"]["text"],
        )
        for r in results
    )
    assert actual == expected
    assert ("prod-eu/checkout/Pod/cart-7d9f8b6c4-00000") in {a[2] for a in actual}
    assert "prod-eu//Node/node-a1" in {a[2] for a in actual}


def test_level_mapping() -> None:
    assert [level(s) for s in ("critical", "error", "warning", "info")] == [
        "error",
        "error",
        "warning",
        "note",
    ]


def test_not_run_and_unreachable_are_notifications(
    doc: dict[str, Any], log: dict[str, Any]
) -> None:
    (invocation,) = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert len(notes) == len(doc["not_run"]) + 1
    for note in notes:
        assert note["level"] in LEVELS
        _message(note["message"])
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    for note in notes[: len(doc["not_run"])]:
        assert rules[note["associatedRule"]["index"]]["id"] == note["associatedRule"]["id"]
    assert "unreachable" in notes[-1]["message"]["text"]
    assert invocation["endTimeUtc"].endswith("Z")


def test_finding_of_an_unlisted_check_gets_a_rule() -> None:
    doc = sample_document(history=0)
    doc["findings"][0]["check"] = "brand-new-check"
    log = json.loads(render(doc, "sarif"))
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[-1]["id"] == "brand-new-check"
    assert log["runs"][0]["results"][0]["ruleIndex"] in range(len(rules))


def test_empty_document() -> None:
    log = json.loads(render({}, "sarif"))
    run = log["runs"][0]
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"] == []
    assert run["invocations"][0]["executionSuccessful"] is True


def test_manifest_findings_point_at_their_file_and_line() -> None:
    from kubeops.inspect import InspectConfig, build_document, inspect_manifests

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
    }
    report = inspect_manifests([deployment], InspectConfig(), {id(deployment): ("k8s/web.yaml", 7)})
    document = build_document(report)
    assert all(f["location"] == {"file": "k8s/web.yaml", "line": 7} for f in document["findings"])
    results = json.loads(render(document, "sarif"))["runs"][0]["results"]
    assert results
    for result in results:
        physical = result["locations"][0]["physicalLocation"]
        assert physical == {
            "artifactLocation": {"uri": "k8s/web.yaml"},
            "region": {"startLine": 7},
        }


def test_live_findings_have_no_physical_location(log: dict[str, Any]) -> None:
    results = log["runs"][0]["results"]
    assert results
    for result in results:
        assert "physicalLocation" not in result["locations"][0]
        assert result["locations"][0]["logicalLocations"]  # the object, by name
