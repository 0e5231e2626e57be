"""SARIF 2.1.0, the static-analysis interchange format code-scanning tools import.

Checks are the rules, findings the results.  Kubernetes objects have no file to
point at, so each result has a logical location whose fully qualified name is
``cluster/namespace/Kind/name`` (the namespace empty for cluster-scoped objects,
so the name always has four parts).  Checks that could not run and unreachable
clusters are tool execution notifications.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

import kubeops
from kubeops.inspect.report import view

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "error": "error", "warning": "warning", "info": "note"}


def level(severity: Any) -> str:
    """The SARIF level of a severity (critical and error are both ``error``)."""
    return LEVELS.get(str(severity), "warning")


def location_name(finding: dict[str, Any]) -> str:
    """The logical location of a finding's object: cluster/namespace/kind/name."""
    cluster, namespace, kind, name = view.object_key(finding)
    return f"{cluster}/{namespace}/{kind}/{name}"


def render(document: dict[str, Any]) -> str:
    """The document as a SARIF 2.1.0 log (JSON), newline-terminated."""
    return orjson.dumps(sarif(document), option=orjson.OPT_INDENT_2).decode() + "\n"


def sarif(document: dict[str, Any]) -> dict[str, Any]:
    """The SARIF log as a dict (``render`` serialises it)."""
    checks = view.all_checks(document)
    index = {check_id: i for i, check_id in enumerate(checks)}
    rules = [_rule(meta) for meta in checks.values()]
    results = [_result(f, index) for f in view.sorted_findings(document)]
    notifications: list[dict[str, Any]] = [
        {
            "level": "warning",
            "message": {
                "text": f"{n.get('check')} not run on {n.get('cluster')}: {n.get('reason')}"
            },
            "associatedRule": {
                "id": str(n.get("check")),
                "index": index.get(str(n.get("check")), -1),
            },
        }
        for n in view.not_run(document)
    ]
    notifications += [
        {
            "level": "error",
            "message": {"text": f"cluster {c.get('name')} unreachable: {c.get('error')}"},
        }
        for c in view.unreachable(document)
    ]
    for notification in notifications:
        rule = notification.get("associatedRule")
        if rule is not None and rule["index"] < 0:
            del rule["index"]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kubeops inspect",
                        "version": kubeops.__version__,
                        "semanticVersion": kubeops.__version__,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"kubeops-inspect/{document.get('generated', '')}"},
                "invocations": [
                    {
                        "executionSuccessful": not view.unreachable(document),
                        "toolExecutionNotifications": notifications,
                        **_end_time(document),
                    }
                ],
                "results": results,
                "properties": {
                    "schema": document.get("schema"),
                    "mode": document.get("mode"),
                    "score": document.get("score"),
                    "grade": document.get("grade"),
                },
            }
        ],
    }


def _rule(meta: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": meta["id"],
        "name": meta["id"],
        "shortDescription": {"text": meta["title"]},
        "fullDescription": {"text": meta["rationale"] or meta["title"]},
        "defaultConfiguration": {"level": level(meta["severity"])},
        "properties": {
            "category": meta["category"],
            "severity": meta["severity"],
            "tags": ["kubernetes", meta["category"]] if meta["category"] else ["kubernetes"],
        },
    }
    if meta["remediation"]:
        rule["help"] = {"text": meta["remediation"], "markdown": meta["remediation"]}
    return rule


def _result(finding: dict[str, Any], index: dict[str, int]) -> dict[str, Any]:
    check_id = str(finding.get("check") or "")
    obj = finding.get("object") or {}
    name = location_name(finding)
    fingerprint = hashlib.sha256(f"{check_id}\0{name}".encode()).hexdigest()
    where: dict[str, Any] = {
        "logicalLocations": [
            {"fullyQualifiedName": name, "name": str(obj.get("name") or ""), "kind": "resource"}
        ]
    }
    source = finding.get("location")
    if source:  # static mode: code-scanning tools annotate the manifest's line
        where["physicalLocation"] = {
            "artifactLocation": {"uri": str(source["file"])},
            "region": {"startLine": int(source["line"])},
        }
    return {
        "ruleId": check_id,
        "ruleIndex": index[check_id],
        "level": level(finding.get("severity")),
        "message": {"text": str(finding.get("message") or finding.get("title") or check_id)},
        "locations": [where],
        "partialFingerprints": {"kubeopsObject/v1": fingerprint},
        "properties": {
            "severity": finding.get("severity"),
            "category": finding.get("category"),
            "cluster": finding.get("cluster"),
            "object": obj,
        },
    }


def _end_time(document: dict[str, Any]) -> dict[str, str]:
    generated = str(document.get("generated") or "")
    return {"endTimeUtc": generated.replace("+00:00", "Z")} if generated else {}
