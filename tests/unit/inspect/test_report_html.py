"""The HTML report: self-contained, escaped, and carrying every section and chart the
browser test drives (``data-testid`` hooks), without needing a browser."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest

from kubeops.inspect.report import charts, render
from kubeops.inspect.report.sample import sample_document


class Page(HTMLParser):
    """Elements by data-testid, every src/href, and the inline script and style text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.testids: dict[str, list[dict[str, str | None]]] = {}
        self.links: list[str] = []
        self.tags: list[str] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self._in: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append(tag)
        if "data-testid" in found:
            self.testids.setdefault(str(found["data-testid"]), []).append(found)
        for key in ("src", "href", "action", "xlink:href"):
            if found.get(key) is not None:
                self.links.append(str(found[key]))
        if (tag == "script" and found.get("type") is None) or tag == "style":
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.raw[self._in].append(data)

    def count(self, testid: str) -> int:
        return len(self.testids.get(testid, []))


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return sample_document()


@pytest.fixture(scope="module")
def html(doc: dict[str, Any]) -> str:
    return render(doc, "html")


@pytest.fixture(scope="module")
def page(html: str) -> Page:
    return Page(html)


def test_is_self_contained(html: str, page: Page) -> None:
    assert all(link.startswith(("#", "data:")) for link in page.links), page.links
    assert "link" in page.tags  # only the data: favicon
    assert "@import" not in html
    assert "url(" not in html
    assert "@font-face" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_content_security_policy_admits_only_the_inline_assets(html: str, page: Page) -> None:
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    policy = unescape(csp.group(1))
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    (script,) = page.raw["script"]
    (style,) = page.raw["style"]
    assert f"script-src 'sha256-{digest(script)}'" in policy
    assert f"style-src 'sha256-{digest(style)}'" in policy
    assert " style=" not in html  # inline style attributes would be blocked


def test_untrusted_strings_are_escaped(doc: dict[str, Any], html: str) -> None:
    hostile = next(f["message"] for f in doc["findings"] if "<script>" in f["message"])
    assert hostile not in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html


def test_attribute_and_json_data_cannot_break_out() -> None:
    doc = sample_document()
    doc["clusters"][0]["name"] = '"><img src=x onerror=alert(1)>'
    doc["findings"][0]["cluster"] = doc["clusters"][0]["name"]
    doc["checks"]["node-not-ready"]["title"] = "</script><script>alert(1)</script>"
    text = render(doc, "html")
    assert "<img src=x" not in text
    assert "</script><script>alert(1)" not in text
    page = Page(text)
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
    assert data is not None
    assert json.loads(data.group(1))["checks"]["node-not-ready"]["title"].startswith("</script>")
    assert all(link.startswith(("#", "data:")) for link in page.links)


def test_grade_score_and_clusters(doc: dict[str, Any], page: Page, html: str) -> None:
    assert page.count("grade") == 1
    assert f'data-testid="grade" title="Overall grade">{doc["grade"]}<' in html
    assert f'data-testid="score">{doc["score"]}<' in html
    assert page.count("cluster-card") == len(doc["clusters"])
    assert page.count("cluster-grade") == len(doc["clusters"])
    assert page.count("unreachable") == 1
    assert "Connection refused" in html


def test_category_chart_has_one_bar_per_category(doc: dict[str, Any], page: Page) -> None:
    reachable = [c for c in doc["clusters"] if c["reachable"]]
    charts_ = page.testids["category-chart"]
    assert [c["data-cluster"] for c in charts_] == [c["name"] for c in reachable]
    assert page.count("category-bar") == sum(len(c["categories"]) for c in reachable)
    assert page.count("category-matrix") == 1


def test_severity_donut(doc: dict[str, Any], page: Page) -> None:
    segments = page.testids["severity-segment"]
    counts = doc["summary"]["by_severity"]
    assert {s["data-severity"]: int(str(s["data-count"])) for s in segments} == {
        k: v for k, v in counts.items() if v
    }


def test_trend_charts_have_a_point_and_column_per_run(doc: dict[str, Any], page: Page) -> None:
    runs = len(doc["history"])
    assert runs == 10
    assert page.testids["trend-chart"][0]["data-points"] == str(runs)
    assert page.count("trend-point") == runs
    assert page.count("severity-trend-column") == runs
    assert page.count("trend-series") == 2  # one line per reachable cluster
    assert page.count("no-history") == 0


@pytest.mark.parametrize("runs", [0, 1])
def test_no_history_yet(runs: int) -> None:
    page = Page(render(sample_document(history=runs), "html"))
    assert page.count("no-history") == 1
    assert page.count("trend-chart") == 0


def test_findings_table_filters_and_rows(doc: dict[str, Any], page: Page) -> None:
    assert page.count("findings-table") == 1
    for testid in ("filter-search", "filter-severity", "filter-category", "filter-cluster"):
        assert page.count(testid) == 1, testid
    assert page.count("filter-namespace") == 1
    assert page.count("row-count") == 1
    for severity in ("critical", "error", "warning", "info"):
        assert page.count(f"filter-severity-{severity}") == 1
    assert page.raw["script"]  # the filter code is inline


def test_one_row_per_finding_worst_first(doc: dict[str, Any], html: str) -> None:
    rows = re.findall(r'<tr class="finding"[^>]*data-severity="(\w+)"', html)
    assert len(rows) == len(doc["findings"])
    ranks = ["info", "warning", "error", "critical"]
    assert [ranks.index(s) for s in rows] == sorted((ranks.index(s) for s in rows), reverse=True)


def test_not_run_and_scoring(doc: dict[str, Any], html: str, page: Page) -> None:
    assert page.count("not-run-table") == 1
    for entry in doc["not_run"]:
        assert entry["check"] in html
    assert "metrics-server absent" in html
    assert page.count("scoring") == 1
    assert "score = 100 * (1 - weight of failing pairs / weight of all pairs)" in html


def test_no_findings_and_empty_documents() -> None:
    doc = sample_document(history=0)
    doc["findings"] = []
    page = Page(render(doc, "html"))
    assert page.count("no-findings") == 1
    assert page.count("findings-table") == 0
    empty = Page(render({}, "html"))
    assert empty.count("grade") == 1
    assert empty.count("no-findings") == 1


def test_print_styles_exist(html: str) -> None:
    assert "@media print" in html


def test_category_bar_geometry() -> None:
    chart = charts.category_bars(
        {"pods": {"score": 50, "grade": "F"}, "rbac": {"score": 100, "grade": "A"}}
    )
    widths = [b["width"] for b in chart["bars"]]
    assert widths == [chart["bar_w"] / 2, chart["bar_w"]]
    assert chart["height"] == 2 * chart["row"]


def test_donut_segments_fill_the_ring() -> None:
    ring = charts.donut({"critical": 1, "error": 0, "warning": 2, "info": 1})
    lengths = [float(s["dash"].split()[0]) for s in ring["segments"]]
    assert [s["severity"] for s in ring["segments"]] == ["critical", "warning", "info"]
    assert sum(lengths) == pytest.approx(2 * math.pi * ring["radius"], abs=0.2)


def test_trend_geometry_keeps_points_inside_the_plot() -> None:
    history = sample_document()["history"]
    trend = charts.score_trend(history)
    xs = [p["x"] for p in trend["points"]]
    assert xs == sorted(xs)
    assert all(trend["left"] <= x <= trend["right"] for x in xs)
    # Higher scores are drawn higher (smaller y).
    best = max(trend["points"], key=lambda p: p["score"])
    worst = min(trend["points"], key=lambda p: p["score"])
    assert best["y"] < worst["y"]
    assert len(trend["xticks"]) <= 6
    assert trend["xticks"][0] is not None


def test_long_tables_render_lazily() -> None:
    """Past a few hundred rows the browser lays out only the rows on screen."""
    assert 'class="findings"' in render(sample_document(history=0), "html")
    big = sample_document(scale=5, history=0)
    assert len(big["findings"]) > 400
    assert 'class="findings lazy"' in render(big, "html")


def test_a_run_without_score_has_no_point() -> None:
    doc = sample_document()
    doc["history"][3]["score"] = None
    doc["history"][3]["grade"] = None
    page = Page(render(doc, "html"))
    assert page.count("trend-point") == len(doc["history"]) - 1
