"""The terminal summary away from a terminal (a pipe, a CI log) and on narrow ones:
object names are shown whole, or shortened on purpose in their middle, never folded."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest

from kubeops.inspect.report import print_summary
from kubeops.inspect.report.sample import sample_document
from kubeops.inspect.report.terminal import NO_TERMINAL_WIDTH, middle_ellipsis, stdout_console
from kubeops.inspect.report.view import object_label, sorted_findings

LONG = "payments-api-canary-7d9f8c6b5-x2x9z-with-a-name-longer-than-any-column"


def with_long_name() -> tuple[dict[str, Any], str]:
    """The sample document with its worst finding's object renamed long; and its label."""
    doc = sample_document()
    worst = sorted_findings(doc)[0]
    worst["object"] = {**worst["object"], "name": LONG}
    return doc, object_label(worst["object"])


def piped_summary(doc: dict[str, Any]) -> str:
    """What ``kubeops inspect | cat`` prints: stdout is a StringIO, no terminal."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_summary(doc)
    return out.getvalue()


def test_without_a_terminal_the_summary_is_wide_and_names_are_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert stdout_console().width == NO_TERMINAL_WIDTH
    doc, label = with_long_name()
    text = piped_summary(doc)
    lines = text.splitlines()
    assert max(len(line) for line in lines) > 80
    # The long name is on one line, whole; so is every other object shown.
    assert any(label in line for line in lines), text
    for finding in sorted_findings(doc)[:10]:
        assert object_label(finding["object"]) in text
    assert "…" not in text.split("Top findings")[1].split("… and")[0]


def test_columns_from_the_environment_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert stdout_console().width == 200
    doc, label = with_long_name()
    text = piped_summary(doc)
    assert label in text
    assert NO_TERMINAL_WIDTH < max(len(line) for line in text.splitlines()) <= 200


def test_a_narrow_terminal_puts_messages_under_names_and_shortens_only_the_too_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    doc, label = with_long_name()
    text = piped_summary(doc)
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert "Object / message" in text
    # Names that fit are whole; the one too long keeps its kind and its end around an ellipsis.
    for finding in sorted_findings(doc)[1:10]:
        shown = object_label(finding["object"])
        if len(shown) <= 30:
            assert shown in text
    shortened = [line for line in lines if "Node/payments" in line]
    assert len(shortened) == 1, text
    assert "…" in shortened[0]
    assert shortened[0].rstrip().endswith(label[-8:])
    assert LONG[20:40] not in text  # the middle went, not folded onto the next line


def test_middle_ellipsis() -> None:
    assert middle_ellipsis("Pod/shop/web", 20) == "Pod/shop/web"
    assert middle_ellipsis("Deployment/shop/web-frontend", 15) == "Deploym…rontend"
    assert len(middle_ellipsis("x" * 100, 15)) == 15
