"""The Markdown report: GitHub tables that stay tables whatever the cluster says."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kubeops.inspect.report import render
from kubeops.inspect.report.markdown import escape
from kubeops.inspect.report.sample import sample_document


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return sample_document()


@pytest.fixture(scope="module")
def text(doc: dict[str, Any]) -> str:
    return render(doc, "markdown")


def _cells(line: str) -> int:
    """How many cells a table row has, counting only unescaped pipes."""
    return len(re.findall(r"(?<!\\)\|", line)) - 1


def _section(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start + 1 : end]


def test_title_and_summary(doc: dict[str, Any], text: str) -> None:
    assert text.startswith(f"# kubeops inspect: grade {doc['grade']} ({doc['score']}/100)\n")
    assert f"{len(doc['findings'])} finding(s): 4 critical, 24 error" in text
    assert "1 unreachable" in text


def test_every_table_row_has_as_many_cells_as_its_header(text: str) -> None:
    width = None
    for line in text.splitlines():
        if not line.startswith("|"):
            width = None
            continue
        if width is None:
            width = _cells(line)
        assert _cells(line) == width, line


def test_findings_grouped_by_severity_with_counts(doc: dict[str, Any], text: str) -> None:
    for severity, count in doc["summary"]["by_severity"].items():
        heading = next(
            line
            for line in text.splitlines()
            if line.startswith("### ") and severity.capitalize() in line
        )
        assert heading.endswith(f"({count})")
        rows = [line for line in _section(text, heading) if line.startswith("| ")][1:]
        assert len(rows) == count
    order = [text.index(s.capitalize() + " (") for s in ("critical", "error", "warning", "info")]
    assert order == sorted(order)


def test_clusters_and_categories_tables(doc: dict[str, Any], text: str) -> None:
    clusters = [line for line in _section(text, "## Clusters") if line.startswith("| ")]
    assert len(clusters) == 1 + len(doc["clusters"])
    assert any("dev-lab" in line and "**unreachable**" in line for line in clusters)
    categories = [line for line in _section(text, "## Categories") if line.startswith("| ")]
    assert categories[0] == "| Category | prod-eu | staging |"
    assert any(line.startswith("| rbac |") and "—" in line for line in categories)


def test_not_run_lists_reasons(doc: dict[str, Any], text: str) -> None:
    rows = [line for line in _section(text, "## Not run") if line.startswith("| ")][1:]
    assert len(rows) == len(doc["not_run"])
    assert "cannot list resource" in text


def test_hostile_strings_are_escaped(text: str) -> None:
    assert "<script>" not in text
    assert "&lt;script&gt;alert" in text
    assert r"image a\|b \`tick\` \*star\* \[link\](x) &amp; &lt;b&gt;bold&lt;/b&gt;" in text
    assert "first line second line \\| with a pipe" in text


def test_escape() -> None:
    assert escape("a|b") == r"a\|b"
    assert escape("x\n\ny") == "x y"
    assert escape(None) == ""
    assert escape("kube_system") == r"kube\_system"


def test_no_findings() -> None:
    doc = sample_document(history=0)
    doc["findings"] = []
    text = render(doc, "markdown")
    assert "No findings." in text
    assert "### " not in text
