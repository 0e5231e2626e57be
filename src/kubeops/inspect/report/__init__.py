"""Every output of ``kubeops inspect`` rendered from its one JSON document
(:mod:`kubeops.inspect.document`): JSON, a self-contained HTML page, Markdown,
JUnit XML, SARIF 2.1.0 and a terminal summary.

Renderers read only the document, never the cluster, so a stored report renders
the same way later.  Each lives in its own module, imported on first use so the
CLI does not pay for Jinja2 or rich when it prints JSON.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

FORMATS = ("json", "html", "markdown", "junit", "sarif")

_MODULES = {
    "json": "jsonfmt",
    "html": "html",
    "markdown": "markdown",
    "junit": "junit",
    "sarif": "sarif",
}


def render(document: dict[str, Any], fmt: str) -> str:
    """The document in ``fmt`` (one of :data:`FORMATS`) as text."""
    if fmt not in _MODULES:
        raise ValueError(f"unknown report format {fmt!r} (one of: {', '.join(FORMATS)})")
    module = importlib.import_module(f"kubeops.inspect.report.{_MODULES[fmt]}")
    text: str = module.render(document)
    return text


def print_summary(
    document: dict[str, Any], console: Console | None = None, *, limit: int = 10
) -> None:
    """Print the terminal summary (grade, clusters, categories, the ``limit`` worst
    findings, what did not run) to ``console`` (stdout by default)."""
    from kubeops.inspect.report.terminal import print_summary as _print

    _print(document, console, limit=limit)


__all__ = ["FORMATS", "print_summary", "render"]
