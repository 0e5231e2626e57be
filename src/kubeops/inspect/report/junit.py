"""JUnit XML, so CI systems show an inspection as test results.

One ``<testsuite>`` per check per cluster; one failing ``<testcase>`` per object a
check failed on (several findings of one check on one object are one test case,
typed with the worst severity); one passing test case for a check that ran and
found nothing; a check that could not run is a skipped test case; an unreachable
cluster is one errored test case, since none of its checks could be judged.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from kubeops.inspect.report import view

PASSED = "all examined objects pass"

# Characters XML 1.0 cannot carry even escaped (control characters, lone surrogates).
_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render(document: dict[str, Any]) -> str:
    """The document as JUnit XML: a suite per cluster and category, a test case per check."""
    root = ET.Element("testsuites", name="kubeops inspect")
    timestamp = str(document.get("generated") or "").split("+")[0]
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for finding in view.sorted_findings(document):
        key = (str(finding.get("cluster") or ""), str(finding.get("check") or ""))
        grouped.setdefault(key, []).append(finding)
    checks = view.all_checks(document)
    for cluster in view.clusters(document):
        name = str(cluster.get("name") or "")
        if not cluster.get("reachable", True):
            suite = _suite(root, f"{name}: cluster", timestamp, {"cluster": name})
            case = _case(suite, name, "connection", "cluster reachable")
            ET.SubElement(
                case,
                "error",
                message=str(cluster.get("error") or "unreachable"),
                type="unreachable",
            ).text = str(cluster.get("error") or "")
            continue
        ran = view.checks_run(document, cluster)
        skipped = {n.get("check"): n for n in view.not_run(document) if n.get("cluster") == name}
        for check_id in checks:
            meta = checks[check_id]
            props = {"cluster": name, "category": meta["category"], "severity": meta["severity"]}
            suite = _suite(root, f"{name}: {check_id}", timestamp, props)
            if check_id in skipped:
                case = _case(suite, name, check_id, f"{check_id}: not run")
                ET.SubElement(case, "skipped", message=str(skipped[check_id].get("reason") or ""))
            elif check_id in ran:
                _cases(suite, name, meta, grouped.get((name, check_id), []))
    known = {c.get("name") for c in view.clusters(document)}
    for (name, check_id), items in grouped.items():
        # Findings of a cluster the document does not list still show.
        if name not in known:
            suite = _suite(root, f"{name}: {check_id}", timestamp, {"cluster": name})
            _cases(suite, name, checks[check_id], items)
    _totals(root)
    _sanitize(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(root: ET.Element, name: str, timestamp: str, props: dict[str, str]) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=name, timestamp=timestamp, time="0")
    properties = ET.SubElement(suite, "properties")
    for key, value in props.items():
        ET.SubElement(properties, "property", name=key, value=value)
    return suite


def _case(suite: ET.Element, cluster: str, check_id: str, name: str) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", classname=f"kubeops.inspect.{cluster}.{check_id}", name=name, time="0"
    )


def _cases(
    suite: ET.Element, cluster: str, meta: dict[str, Any], items: list[dict[str, Any]]
) -> None:
    if not items:
        _case(suite, cluster, meta["id"], f"{meta['id']}: {PASSED}")
        return
    by_object: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for finding in items:
        by_object.setdefault(view.object_key(finding), []).append(finding)
    for group in by_object.values():
        worst = max(group, key=lambda f: view.rank(str(f.get("severity"))))
        label = view.object_label(worst.get("object") or {})
        case = _case(suite, cluster, meta["id"], label)
        messages = [str(f.get("message") or "") for f in group]
        failure = ET.SubElement(
            case, "failure", message="; ".join(messages), type=str(worst.get("severity"))
        )
        detail = [f"{meta['title']} ({meta['id']}, {worst.get('severity')})", *messages]
        if meta.get("remediation"):
            detail.append(f"Remediation: {meta['remediation']}")
        failure.text = "\n".join(detail)


def _totals(root: ET.Element) -> None:
    """Counts on every suite and on the root, as consumers read them."""
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(c.find("failure") is not None for c in cases),
            "errors": sum(c.find("error") is not None for c in cases),
            "skipped": sum(c.find("skipped") is not None for c in cases),
        }
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")


def _sanitize(root: ET.Element) -> None:
    """Replace what XML cannot carry, so a hostile message cannot break the file."""
    for element in root.iter():
        if element.text:
            element.text = _INVALID.sub("\ufffd", element.text)
        for key, value in element.attrib.items():
            element.set(key, _INVALID.sub("\ufffd", value))
