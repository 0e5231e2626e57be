"""A Pod as the API server sends it, and the activation a respond rule sees for its update."""

from __future__ import annotations

import copy
from typing import Any

import pytest


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-7d4b9c-x2x7q",
            "namespace": "prod",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web", "tier": "frontend"},
        },
        "spec": {
            "replicas": 3,
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example.com/web:1.2.3",
                    "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}},
                },
                {"name": "sidecar", "image": "envoy:v1.30", "resources": {}},
            ],
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "app", "restartCount": 5, "ready": False},
                {"name": "sidecar", "restartCount": 0, "ready": True},
            ],
        },
    }


@pytest.fixture
def activation() -> dict[str, Any]:
    """``object`` scaled from 2 to 3 replicas; ``oldObject`` the state before."""
    new = _pod()
    old = copy.deepcopy(new)
    old["spec"]["replicas"] = 2
    return {
        "object": new,
        "oldObject": old,
        "payload": {"service": "db", "failures": 3},
        "event": {"name": "modified", "source": "resource"},
    }
