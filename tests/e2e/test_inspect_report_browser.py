"""The HTML report in a real browser (Debian's Chromium driven by Playwright), opened
from a file as a user opens a mailed or downloaded report: it draws its charts,
filters, sorts and expands findings, logs no error and fetches nothing.

A full-page screenshot is left in build/test-artifacts/inspect-report.png.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Request, sync_playwright

from kubeops.inspect.report import render
from kubeops.inspect.report.sample import sample_document

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

INSTALL_HINT = f"{CHROMIUM} is not installed: run `make browser` (apt-get install chromium)"


def require_chromium() -> None:
    """Skip without Chromium on a developer's machine; under CI (``$CI`` set) fail loudly
    instead, so a runner that lost its browser cannot pass by skipping the test."""
    if os.access(CHROMIUM, os.X_OK):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{INSTALL_HINT}; CI must run the browser test", pytrace=False)
    pytest.skip(INSTALL_HINT)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Opened:
    """A report page and everything it did while open."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.url = path.as_uri()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page: Page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("request", self._request)
        self.page.on("dialog", self._dialog)
        self.page.goto(self.url)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            self.errors.append(f"console {message.type}: {message.text}")

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def visible_rows(self) -> int:
        count: int = self.page.locator("tr.finding:visible").count()
        shown = self.page.get_by_test_id("row-count-visible").inner_text()
        assert int(shown) == count
        return count

    def column(self, index: int) -> list[str]:
        """A column's text in the shown rows, top to bottom (textContent: rows off
        screen are not rendered, so their innerText is empty)."""
        texts: list[str] = self.page.locator("tr.finding:not([hidden])").evaluate_all(
            f"rows => rows.map(row => row.cells[{index - 1}].textContent)"
        )
        return texts


def _search_text(doc: dict[str, Any], finding: dict[str, Any]) -> str:
    """What the page's search matches a finding against (see report.js)."""
    obj = finding["object"]
    parts = [
        finding["severity"],
        finding["check"],
        doc["checks"][finding["check"]]["title"],
        finding["category"],
        finding["cluster"],
        obj["namespace"] or "",
        f"{obj['kind']}/{obj['name']}",
        finding["message"],
    ]
    return "\n".join(parts).lower()


def _matching(doc: dict[str, Any], *terms: str) -> int:
    return sum(all(t in _search_text(doc, f) for t in terms) for f in doc["findings"])


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return sample_document()


@pytest.fixture
def opened(browser: Browser, doc: dict[str, Any], tmp_path: Path) -> Iterator[Opened]:
    path = tmp_path / "report.html"
    path.write_text(render(doc, "html"), encoding="utf-8")
    report = Opened(browser, path)
    yield report
    report.page.close()


def test_report_draws_and_filters(opened: Opened, doc: dict[str, Any]) -> None:
    page = opened.page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "inspect-report.png"), full_page=True)

    assert page.get_by_test_id("grade").inner_text() == doc["grade"]
    assert page.get_by_test_id("score").inner_text() == str(doc["score"])

    # One bar per category on each reachable cluster, each with a visible width.
    reachable = [c for c in doc["clusters"] if c["reachable"]]
    charts = page.get_by_test_id("category-chart")
    assert charts.count() == len(reachable)
    for i, cluster in enumerate(reachable):
        bars = charts.nth(i).get_by_test_id("category-bar")
        assert bars.count() == len(cluster["categories"])
        box = charts.nth(i).bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 100

    # The trend chart has a point per run, drawn left to right.
    points = page.get_by_test_id("trend-chart").get_by_test_id("trend-point")
    assert points.count() == len(doc["history"]) == 10
    boxes = [points.nth(i).bounding_box() for i in range(points.count())]
    xs = [box["x"] for box in boxes if box is not None]
    assert len(xs) == len(boxes)
    assert xs == sorted(xs)
    assert xs[0] < xs[-1]
    assert page.get_by_test_id("severity-trend-column").count() == 10

    # Every finding is a row; the cluster's unreachable state is shown.
    assert opened.visible_rows() == len(doc["findings"])
    assert page.get_by_test_id("unreachable").is_visible()
    assert "Connection refused" in page.get_by_test_id("unreachable").inner_text()

    # The hostile message shows as text and runs nothing.
    hostile = page.locator("tr.finding", has_text="alert(").first
    assert '<script>alert("pwned")</script>' in (hostile.text_content() or "")
    assert opened.dialogs == []

    # Free-text search, several terms all matching.
    search = page.get_by_test_id("filter-search")
    search.fill("payments")
    assert opened.visible_rows() == _matching(doc, "payments") > 0
    search.fill("crashloop prod-eu")
    assert opened.visible_rows() == _matching(doc, "crashloop", "prod-eu") > 0
    search.fill("no such thing anywhere")
    assert opened.visible_rows() == 0
    assert page.get_by_test_id("no-match").is_visible()
    search.fill("")
    assert opened.visible_rows() == len(doc["findings"])

    # Severity checkboxes.
    by_severity = doc["summary"]["by_severity"]
    page.get_by_test_id("filter-severity-warning").uncheck()
    page.get_by_test_id("filter-severity-info").uncheck()
    assert opened.visible_rows() == by_severity["critical"] + by_severity["error"]
    assert set(opened.column(1)) == {"critical", "error"}

    # Selects combine with the rest.
    page.get_by_test_id("filter-category").select_option("security")
    expected = sum(
        f["category"] == "security" and f["severity"] in {"critical", "error"}
        for f in doc["findings"]
    )
    assert opened.visible_rows() == expected > 0
    page.get_by_test_id("filter-reset").click()
    page.get_by_test_id("filter-cluster").select_option("staging")
    page.get_by_test_id("filter-namespace").select_option("payments")
    expected = sum(
        f["cluster"] == "staging" and f["object"]["namespace"] == "payments"
        for f in doc["findings"]
    )
    assert opened.visible_rows() == expected > 0
    page.get_by_test_id("filter-reset").click()
    assert opened.visible_rows() == len(doc["findings"])

    # A severity chip on a cluster card filters the table to it.
    page.locator('[data-testid="cluster-card"][data-cluster="prod-eu"] a.chip.sev-error').click()
    assert opened.visible_rows() == sum(
        f["cluster"] == "prod-eu" and f["severity"] == "error" for f in doc["findings"]
    )
    page.get_by_test_id("filter-reset").click()

    assert opened.errors == []
    assert opened.requests == [opened.url]


def test_report_sorts_and_expands_details(opened: Opened, doc: dict[str, Any]) -> None:
    page = opened.page
    checks = sorted(f["check"] for f in doc["findings"])
    header = page.locator('th[data-sort="check"] button')
    header.click()
    assert page.locator('th[data-sort="check"]').get_attribute("aria-sort") == "ascending"
    column = opened.column(2)
    assert (column[0], column[-1]) == (checks[0], checks[-1])
    header.click()
    assert page.locator('th[data-sort="check"]').get_attribute("aria-sort") == "descending"
    column = opened.column(2)
    assert (column[0], column[-1]) == (checks[-1], checks[0])
    assert opened.visible_rows() == len(doc["findings"])

    page.locator('th[data-sort="rank"] button').click()  # back to worst first
    assert opened.column(1)[0] == "critical"

    # Details: the check's rationale and remedy, and every finding on the object.
    key = "prod-eu//Node/node-a1"
    on_object = [
        f for f in doc["findings"] if f["cluster"] == "prod-eu" and f["object"]["name"] == "node-a1"
    ]
    row = page.locator(f'tr.finding[data-key="{key}"]').first
    row.click()
    details = page.get_by_test_id("finding-details")
    assert details.count() == 1
    assert details.is_visible()
    assert row.get_attribute("aria-expanded") == "true"
    check = doc["checks"][row.get_attribute("data-check") or ""]
    text = details.inner_text()
    assert check["rationale"] in text
    assert f"All findings on this object ({len(on_object)})" in text
    assert details.get_by_test_id("object-findings").locator("li").count() == len(on_object)
    row.press("Enter")  # keyboard closes it again
    assert page.get_by_test_id("finding-details").count() == 0

    row.click()
    page.get_by_test_id("filter-search").fill("node")
    assert page.get_by_test_id("finding-details").count() == 0  # filtering closes details

    page.get_by_test_id("filter-reset").click()
    page.locator('tr.finding[data-check="sec-privileged"]').first.click()
    page.get_by_test_id("finding-details").scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "inspect-report-details.png"))

    assert opened.errors == []
    assert opened.requests == [opened.url]


def test_five_thousand_findings_stay_fast(browser: Browser, tmp_path: Path) -> None:
    doc = sample_document(scale=48)
    assert len(doc["findings"]) >= 4900
    path = tmp_path / "big.html"
    path.write_text(render(doc, "html"), encoding="utf-8")
    opened = Opened(browser, path)
    page = opened.page
    assert opened.visible_rows() == len(doc["findings"])
    # Time the work a keystroke, a checkbox and a header click cause, layout included.
    timings = page.evaluate(
        """() => {
            const time = (action) => {
                const start = performance.now();
                action();
                document.body.getBoundingClientRect();
                void document.body.offsetHeight;
                return performance.now() - start;
            };
            const search = document.querySelector('[data-testid="filter-search"]');
            const warning = document.querySelector('[data-testid="filter-severity-warning"]');
            return {
                search: time(() => { search.value = "payments"; search.dispatchEvent(new Event("input")); }),
                clear: time(() => { search.value = ""; search.dispatchEvent(new Event("input")); }),
                severity: time(() => warning.click()),
                sort: time(() => document.querySelector('th[data-sort="message"] button').click()),
            };
        }"""
    )
    assert max(timings.values()) < 1000, timings
    assert opened.visible_rows() == len(doc["findings"]) - doc["summary"]["by_severity"]["warning"]
    assert opened.errors == []
    assert opened.requests == [opened.url]
    page.close()
