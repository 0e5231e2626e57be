"""The report package: format dispatch, JSON, the terminal summary, the packaged
templates, and every format over a document built by the real runner."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from importlib import resources
from typing import Any

import orjson
import pytest
from rich.console import Console

from kubeops.inspect import ClusterResult, InspectConfig, Snapshot, build_document, run_checks
from kubeops.inspect.report import FORMATS, print_summary, render
from kubeops.inspect.report.sample import sample_document
from kubeops.inspect.runner import assemble_report


def _deployment(ns: str, name: str, security: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": f"{name}:latest", "securityContext": security}
                    ]
                },
            },
        },
    }


def real_document() -> dict[str, Any]:
    """A document from the real runner and catalogue over a few bad manifests."""
    manifests = [
        _deployment("payments", "api", {"privileged": True}),
        _deployment("payments", "worker", {"runAsUser": 0}, 3),
        _deployment("web", "frontend", {"runAsNonRoot": True}, 2),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "ci-admin"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "default"}],
        },
    ]
    result = run_checks(Snapshot.from_objects(manifests), InspectConfig())
    return build_document(assemble_report([result], InspectConfig(), "static"))


def empty_document() -> dict[str, Any]:
    return build_document(assemble_report([], InspectConfig(), "live"))


def unreachable_document() -> dict[str, Any]:
    """No cluster reached: the document has no score and no grade."""
    down = ClusterResult(name="prod", server="https://prod:6443", reachable=False, error="boom")
    return build_document(assemble_report([down], InspectConfig(), "live"))


def test_formats_are_the_documented_ones() -> None:
    assert FORMATS == ("json", "html", "markdown", "junit", "sarif")


def test_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="one of: json, html, markdown, junit, sarif"):
        render({}, "pdf")


def test_json_is_the_document_with_sorted_keys() -> None:
    doc = sample_document()
    text = render(doc, "json")
    assert orjson.loads(text) == doc
    assert text.endswith("\n")
    assert text.startswith('{\n  "checks"')  # keys sorted, two-space indent
    assert render(doc, "json") == text
    # Insertion order does not change the output.
    assert render(dict(reversed(list(doc.items()))), "json") == text


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_real_runner_document(fmt: str) -> None:
    doc = real_document()
    assert doc["findings"], "the manifests should fail some checks"
    text = render(doc, fmt)
    findings = doc["findings"]
    if fmt == "json":
        assert json.loads(text) == doc
    elif fmt == "sarif":
        assert len(json.loads(text)["runs"][0]["results"]) == len(findings)
    elif fmt == "junit":
        root = ET.fromstring(text)
        pairs = {(f["cluster"], f["check"], str(f["object"])) for f in findings}
        assert int(root.get("failures", "-1")) == len(pairs)
    elif fmt == "html":
        assert text.count('<tr class="finding"') == len(findings)
    else:
        assert f"{len(findings)} finding(s)" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_an_empty_document(fmt: str) -> None:
    for doc in (empty_document(), {}):
        text = render(doc, fmt)
        assert text.strip()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_a_document_without_a_reachable_cluster(fmt: str) -> None:
    doc = unreachable_document()
    text = render(doc, fmt)
    assert "boom" in text
    if fmt == "html":
        assert 'data-testid="grade" title="Overall grade">—<' in text
    elif fmt == "markdown":
        assert text.startswith("# kubeops inspect: grade — (—/100)")
    elif fmt == "junit":
        assert ET.fromstring(text).get("errors") == "1"


def test_terminal_summary_without_a_reachable_cluster() -> None:
    text = _summary(unreachable_document())
    assert "Grade —" in text
    assert "prod unreachable: boom" in text


def _summary(doc: dict[str, Any], **kwargs: Any) -> str:
    console = Console(file=io.StringIO(), width=160, record=True, color_system=None)
    print_summary(doc, console, **kwargs)
    return console.export_text()


def test_terminal_summary_shows_grade_clusters_categories_and_top_findings() -> None:
    doc = sample_document()
    text = _summary(doc)
    assert f"Grade {doc['grade']} {doc['score']}/100" in text
    for cluster in doc["clusters"]:
        assert cluster["name"] in text
    assert "dev-lab unreachable: GET /version" in text
    for category in doc["clusters"][0]["categories"]:
        assert category in text
    assert f"… and {len(doc['findings']) - 10} more" in text
    # The worst finding comes first.
    top = text[text.index("Top findings") :]
    assert top.index("critical   node-not-ready") < top.index("error ")
    for entry in doc["not_run"]:
        assert entry["check"] in text


def test_terminal_summary_limit_and_no_findings() -> None:
    doc = sample_document()
    assert f"… and {len(doc['findings']) - 3} more" in _summary(doc, limit=3)
    assert "more" not in _summary(doc, limit=len(doc["findings"]))
    assert "No findings." in _summary(empty_document())


def test_terminal_summary_prints_cluster_strings_literally() -> None:
    doc = sample_document()
    doc["clusters"][0]["name"] = "[bold red]prod[/]"
    doc["findings"][0]["message"] = "[link=http://x]click[/link]"
    text = _summary(doc)
    assert "[bold red]prod[/]" in text
    assert "[link=http://x]click[/link]" in text


def test_terminal_summary_colours_unreachable_clusters_red() -> None:
    console = Console(file=io.StringIO(), width=160, record=True, color_system="truecolor")
    print_summary(sample_document(), console)
    html = console.export_html(inline_styles=True)
    assert "color: #800000" in html or "color: #ff0000" in html or "color: #cd0000" in html


def test_templates_ship_as_package_data() -> None:
    """The HTML renderer loads through importlib.resources; the files must be in the package."""
    templates = resources.files("kubeops.inspect.report").joinpath("templates")
    for name in ("report.html.j2", "charts.html.j2", "report.css", "report.js"):
        assert templates.joinpath(name).is_file(), name
        assert templates.joinpath(name).read_text(encoding="utf-8").strip()
