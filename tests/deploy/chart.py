"""Render the Helm chart ``deploy/chart/kubeops`` for tests: ``helm template`` with the
helm kubeops' testenv builds from its Go module, parsed into objects.

Not a test module: the chart's tests and the in-cluster tests import :func:`render`
and :data:`ALL_ENABLED`.
"""

from __future__ import annotations

import copy
import functools
import json
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "chart" / "kubeops"
"""The chart's directory."""

DAEMONS = ("inspect", "respond", "sync", "sync-agent", "policy-webhook")
"""Every daemon the chart deploys, as its objects are named (``<release>-kubeops-<daemon>``)."""

VALUES_KEY = {
    "inspect": "inspect",
    "respond": "respond",
    "sync": "sync",
    "sync-agent": "syncAgent",
    "policy-webhook": "policyWebhook",
}
"""The values block of each daemon."""

HUB_SECRET = "kubeops-sync-hub"
"""The hub kubeconfig Secret :data:`ALL_ENABLED` gives the sync agent."""

ALL_ENABLED: dict[str, Any] = {
    "inspect": {"enabled": True},
    "respond": {"enabled": True},
    "sync": {"enabled": True},
    "syncAgent": {
        "enabled": True,
        "member": "cluster-a",
        "hub": {"kubeconfigSecret": {"name": HUB_SECRET}},
    },
    "policyWebhook": {"enabled": True},
}
"""Values enabling every daemon (the agent's member and hub Secret filled in)."""


@functools.cache
def helm() -> str:
    """The path of helm, built from its Go module and cached by kubeops' testenv."""
    from kubeops.testenv.assets import ensure_assets

    return str(ensure_assets(("helm",)).path("helm"))


def render(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "kubeops",
    namespace: str = "kubeops-system",
    api_versions: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The chart's objects as ``helm template`` renders them with ``values``
    (``api_versions`` as the cluster would serve them, e.g. ``monitoring.coreos.com/v1``)."""
    return [
        obj for obj in yaml.safe_load_all(template(values, release, namespace, api_versions)) if obj
    ]


def template(
    values: Mapping[str, Any] | None = None,
    release: str = "kubeops",
    namespace: str = "kubeops-system",
    api_versions: Iterable[str] = (),
) -> str:
    """The text ``helm template`` prints (what ``| kubeops apply -f -`` reads)."""
    command = [helm(), "template", release, str(CHART), "--namespace", namespace]
    for version in api_versions:
        command += ["--api-versions", version]
    # JSON is YAML: one values document on stdin, whatever it holds.
    command += ["--values", "-"]
    done = subprocess.run(
        command,
        input=json.dumps(dict(values or {})),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"helm template {CHART.name}: {done.stderr.strip()}")
    return done.stdout


def merged(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Values ``layers`` merged deeply, later ones winning (as helm merges ``-f`` files)."""
    out: dict[str, Any] = {}
    for layer in layers:
        _merge(out, layer)
    return out


def _merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def find(objects: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> list[Any]:
    """The objects of ``kind`` (named ``name`` when given)."""
    return [
        o
        for o in objects
        if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)
    ]


def fullname(daemon: str, release: str = "kubeops") -> str:
    """``<release>-kubeops-<daemon>``: the Deployment, ServiceAccount, Service and roles."""
    return f"{release}-kubeops-{daemon}"
