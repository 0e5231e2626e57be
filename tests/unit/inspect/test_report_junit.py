"""JUnit XML: valid XML with the counts CI systems read, one test case per failing
(check, object), passing and skipped cases, and the unreachable cluster as an error."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from kubeops.inspect.report import render
from kubeops.inspect.report.junit import PASSED
from kubeops.inspect.report.sample import sample_document


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return sample_document()


@pytest.fixture(scope="module")
def root(doc: dict[str, Any]) -> ET.Element:
    text = render(doc, "junit")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text.encode())


def _pairs(doc: dict[str, Any]) -> set[tuple[str, str, str, str, str]]:
    return {
        (
            f["cluster"],
            f["check"],
            f["object"]["kind"],
            f["object"]["namespace"] or "",
            f["object"]["name"],
        )
        for f in doc["findings"]
    }


def test_root_counts_add_up(root: ET.Element) -> None:
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    for key in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(key, "-1")) == sum(int(s.get(key, "-1")) for s in suites), key
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases)
        assert int(suite.get("failures", "-1")) == sum(c.find("failure") is not None for c in cases)
        assert suite.get("name")
        assert suite.get("timestamp")


def test_one_failing_case_per_check_and_object(doc: dict[str, Any], root: ET.Element) -> None:
    failures = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert len(failures) == len(_pairs(doc))
    assert len(failures) == len(doc["findings"]) - 1  # the sample has one duplicate pair
    for case in failures:
        failure = case.find("failure")
        assert failure is not None
        assert failure.get("type") in {"critical", "error", "warning", "info"}
        assert failure.get("message")
        assert case.get("classname", "").startswith("kubeops.inspect.")


def test_two_findings_on_one_object_are_one_case_with_both_messages(root: ET.Element) -> None:
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "prod-eu: node-pressure")
    case = next(c for c in suite.iter("testcase") if c.get("name") == "Node/node-a1")
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "DiskPressure is True; MemoryPressure is True"
    assert "Remediation:" in (failure.text or "")


def test_clean_checks_pass_and_not_run_checks_skip(doc: dict[str, Any], root: ET.Element) -> None:
    passed = [c for c in root.iter("testcase") if len(c) == 0]
    names = {(c.get("classname"), c.get("name")) for c in passed}
    skipped_pairs = {(n["cluster"], n["check"]) for n in doc["not_run"]}
    failing = {(p[0], p[1]) for p in _pairs(doc)}
    expected = {
        (f"kubeops.inspect.{c['name']}.{check}", f"{check}: {PASSED}")
        for c in doc["clusters"]
        if c["reachable"]
        for check in doc["checks"]
        if (c["name"], check) not in skipped_pairs | failing
    }
    assert names == expected
    assert len(expected) == 2
    skipped = [c for c in root.iter("testcase") if c.find("skipped") is not None]
    assert len(skipped) == len(doc["not_run"])
    messages = {s.get("message") for c in skipped for s in c.iter("skipped")}
    assert {n["reason"] for n in doc["not_run"]} == messages


def test_unreachable_cluster_is_an_error(root: ET.Element) -> None:
    errors = [c for c in root.iter("testcase") if c.find("error") is not None]
    assert len(errors) == 1
    error = errors[0].find("error")
    assert error is not None
    assert "Connection refused" in (error.get("message") or "")
    assert int(root.get("errors", "-1")) == 1


def test_hostile_text_stays_valid_xml() -> None:
    doc = sample_document(history=0)
    doc["findings"][0]["message"] = 'bad \x00\x1b[31m <x> & "q" ]]>'
    root = ET.fromstring(render(doc, "junit").encode())
    messages = [f.get("message") or "" for f in root.iter("failure")]
    assert any(m.startswith('bad \ufffd\ufffd[31m <x> & "q" ]]>') for m in messages)


def test_empty_document() -> None:
    root = ET.fromstring(render({}, "junit").encode())
    assert root.get("tests") == "0"
