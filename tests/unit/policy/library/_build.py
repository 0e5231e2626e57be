"""Manifests and a one-entry PolicyLibrary for the built-in tests."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from kubeops.policy.context import StaticContext
from kubeops.policy.library import load
from kubeops.policy.model import API_VERSION, Document, Object, Review, Source, Violation
from kubeops.policy.scan import ScanReport

TODAY = datetime.date(2026, 12, 1)


def container(
    name: str = "app", image: str = "registry.example.com/shop/app:1.4.2", **fields: Any
) -> Object:
    """A container that meets the restricted Pod Security Standard and has resources."""
    base: Object = {
        "name": name,
        "image": image,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "128Mi"},
        },
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    base.update(fields)
    return base


def pod_spec(*containers: Object, **fields: Any) -> Object:
    """A restricted Pod spec (runAsNonRoot, RuntimeDefault seccomp) with ``containers``."""
    spec: Object = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": list(containers) or [container()],
    }
    spec.update(fields)
    return spec


def pod(
    spec: Object | None = None, name: str = "web", namespace: str = "shop", **meta: Any
) -> Object:
    """A Pod object."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": spec if spec is not None else pod_spec(),
    }


def deployment(
    spec: Object | None = None,
    name: str = "web",
    namespace: str = "shop",
    replicas: int | None = 1,
    template_meta: Object | None = None,
) -> Object:
    """A Deployment whose template has ``spec``."""
    obj: Object = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": template_meta or {"labels": {"app": name}},
                "spec": spec if spec is not None else pod_spec(),
            },
        },
    }
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    return obj


def library(*entries: Object, **spec: Any) -> Document:
    """A PolicyLibrary document listing ``entries``."""
    value = {
        "apiVersion": API_VERSION,
        "kind": "PolicyLibrary",
        "metadata": {"name": "test"},
        "spec": {**spec, "builtins": list(entries)},
    }
    return Document(value, Source("library.yaml", 1))


def run(
    builtin: str,
    obj: Object,
    objects: Iterable[Object] = (),
    settings: Object | None = None,
    scans: Sequence[ScanReport] = (),
    today: datetime.date = TODAY,
) -> list[Violation]:
    """The violations one built-in (with ``settings``) finds on ``obj``; the context
    holds ``obj`` and ``objects``."""
    entry: Object = {"builtin": builtin}
    if settings is not None:
        entry["settings"] = settings
    (policy,) = load([library(entry)], scans, today=today)
    context = StaticContext([obj, *objects])
    return policy.evaluate(Review.of_object(copy.deepcopy(obj)), context)


def messages(violations: Iterable[Violation]) -> list[str]:
    """The violations' messages."""
    return [v.message for v in violations]
