"""Deprecation cases.

v1.37 serves no deprecated built-in API version, so ``deprecated-api-requests`` is
exercised through a CustomResourceDefinition whose v1beta1 is marked
``deprecated``: creating an object through it sets the API server's
``apiserver_requested_deprecated_apis`` gauge exactly as a built-in would (with
an empty removed_release).  ``deprecated-api-version`` is exercised live through
the last-applied-configuration annotation kubectl writes (the unit tests cover
manifests).
"""

from __future__ import annotations

import json
from typing import Any

from ..harness import Case

GROUP = "deprecated-api-requests.example.com"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

_SCHEMA = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}


def crd(plural: str, kind: str, *, deprecated_beta: bool) -> dict[str, Any]:
    versions = [{"name": "v1", "served": True, "storage": True, "schema": _SCHEMA}]
    if deprecated_beta:
        versions.insert(
            0,
            {
                "name": "v1beta1",
                "served": True,
                "storage": False,
                "deprecated": True,
                "schema": _SCHEMA,
            },
        )
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": versions,
        },
    }


def applied_deployment(name: str, api_version: str) -> dict[str, Any]:
    labels = {"app": name}
    record = {
        "apiVersion": api_version,
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"template": {"metadata": {"labels": labels}}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": {LAST_APPLIED: json.dumps(record)}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]},
            },
        },
    }


CASES = [
    Case(
        "deprecated-api-requests",
        bad=[
            crd("gadgets", "Gadget", deprecated_beta=True),
            {"apiVersion": f"{GROUP}/v1beta1", "kind": "Gadget", "metadata": {"name": "old"}},
        ],
        good=[
            crd("gizmos", "Gizmo", deprecated_beta=False),
            {"apiVersion": f"{GROUP}/v1", "kind": "Gizmo", "metadata": {"name": "new"}},
        ],
        expect=[f"APIResource/gadgets.{GROUP}/v1beta1"],
    ),
    Case(
        "deprecated-api-version",
        bad=[
            applied_deployment("legacy", "extensions/v1beta1"),
            applied_deployment("legacy-beta2", "apps/v1beta2"),
        ],
        good=[applied_deployment("current", "apps/v1")],
        expect=["Deployment/legacy", "Deployment/legacy-beta2"],
    ),
]
