"""The HTML report: one self-contained file that opens offline, can be mailed or
attached to a CI run, and stays safe with hostile cluster data.

Jinja2 autoescapes every value (names and messages come from the cluster and are
untrusted); the only data handed to the script is JSON in a non-executable
``<script type="application/json">`` block, read with ``textContent``.  A
Content-Security-Policy admits only this file's own style and script (by hash),
so even an escaping bug could neither run injected code nor fetch anything.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

import kubeops
from kubeops.inspect.report import charts, view

TEMPLATES = "templates"


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(TEMPLATES, name).read_text(encoding="utf-8")


@functools.cache
def environment() -> jinja2.Environment:
    """Templates are loaded through importlib.resources, so they work from a wheel."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_read),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["object_label"] = view.object_label
    env.filters["score"] = view.fmt_score
    env.filters["when"] = _when
    return env


@functools.cache
def _assets() -> tuple[str, str, str]:
    """The inline CSS and JS and the CSP that admits exactly them."""
    css, js = _read("report.css"), _read("report.js")

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    csp = (
        "default-src 'none'; img-src data:; "
        f"style-src {digest(css)}; script-src {digest(js)}; base-uri 'none'; form-action 'none'"
    )
    return css, js, csp


def _when(value: Any) -> str:
    """An ISO timestamp as ``2025-11-26 06:00 UTC``."""
    try:
        when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value or "")
    suffix = " UTC" if when.utcoffset() == datetime.timedelta(0) else when.strftime(" %z")
    return when.strftime("%Y-%m-%d %H:%M") + suffix


def render(document: dict[str, Any]) -> str:
    """The document as one self-contained HTML page (styles, scripts and charts inline)."""
    css, js, csp = _assets()
    template = environment().get_template("report.html.j2")
    return template.render(
        doc=document,
        model=model(document),
        css=Markup(css),
        js=Markup(js),
        csp=csp,
        version=kubeops.__version__,
    )


def model(document: dict[str, Any]) -> dict[str, Any]:
    """Everything the template shows, computed once in Python."""
    items = view.sorted_findings(document)
    per_cluster = view.by_cluster(document)
    checks = view.all_checks(document)
    clusters: list[dict[str, Any]] = []
    for cluster in view.clusters(document):
        name = str(cluster.get("name") or "")
        namespaces = sorted(
            (cluster.get("namespaces") or {}).items(),
            key=lambda kv: (kv[1].get("score") or 0, -(kv[1].get("findings") or 0), kv[0]),
        )
        clusters.append(
            {
                "raw": cluster,
                "name": name,
                "counts": per_cluster.get(name, dict.fromkeys(view.SEVERITIES, 0)),
                "chart": charts.category_bars(cluster.get("categories") or {}),
                "namespaces": namespaces,
                "objects": sum(int(n or 0) for n in (cluster.get("objects") or {}).values()),
            }
        )
    reachable = [c for c in clusters if c["raw"].get("reachable", True)]
    runs = view.history(document)
    rows = [
        {
            "i": i,
            "severity": str(f.get("severity") or ""),
            "rank": view.rank(str(f.get("severity") or "")),
            "check": str(f.get("check") or ""),
            "category": str(f.get("category") or ""),
            "cluster": str(f.get("cluster") or ""),
            "namespace": str((f.get("object") or {}).get("namespace") or ""),
            "kind": str((f.get("object") or {}).get("kind") or ""),
            "name": str((f.get("object") or {}).get("name") or ""),
            "api": str((f.get("object") or {}).get("apiVersion") or ""),
            "message": str(f.get("message") or ""),
            "key": "/".join(view.object_key(f)),
        }
        for i, f in enumerate(items)
    ]
    return {
        "counts": view.severity_counts(items),
        "donut": charts.donut(view.severity_counts(items)),
        "clusters": clusters,
        "reachable": reachable,
        "unreachable": [c for c in clusters if not c["raw"].get("reachable", True)],
        "categories": view.categories(document),
        "rows": rows,
        "filters": {
            "categories": sorted({r["category"] for r in rows if r["category"]}),
            "clusters": sorted({r["cluster"] for r in rows}),
            "namespaces": sorted({r["namespace"] for r in rows if r["namespace"]}),
            "cluster_scoped": any(not r["namespace"] for r in rows),
        },
        "checks": checks,
        "not_run": view.not_run(document),
        "history": runs,
        "score_trend": charts.score_trend(runs) if len(runs) >= 2 else None,
        "severity_trend": charts.severity_trend(runs) if len(runs) >= 2 else None,
        "data": {"checks": checks},
    }
