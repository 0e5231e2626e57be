"""Check cases: each check's bad and good variants, created for real in testenv.

A :class:`Case` names a check, the objects that make it fail (``bad``) and a
healthy variant (``good``).  Namespaced objects go to the namespaces
``<check>-bad`` and ``<check>-good`` (created by the harness); cluster-scoped
objects keep their names, so give them names that start with the check ID.  An
object's ``status`` is written through the status subresource after it is
created (nothing in an API-only cluster overwrites it).  ``expect`` lists the
objects the check must flag as ``Kind/name``; the good namespace and the good
cluster-scoped objects must not be flagged at all.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubeops.api import SyncClient
from kubeops.api.manifest import wait_for_crd_established
from kubeops.errors import AlreadyExists

Object = dict[str, Any]


@dataclass(frozen=True)
class Case:
    check: str
    bad: list[Object]
    good: list[Object]
    expect: list[str]
    # Threshold overrides for this check in the one inspection run, e.g. {"minutes": 0}.
    thresholds: dict[str, Any] = field(default_factory=dict)
    # Settings for the run (merged across cases), e.g. {"allowed_registries": [...]}.
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def bad_namespace(self) -> str:
        return f"{self.check}-bad"[:63]

    @property
    def good_namespace(self) -> str:
        return f"{self.check}-good"[:63]


def ref(obj: Object) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def create_case(client: SyncClient, case: Case) -> None:
    for namespace in (case.bad_namespace, case.good_namespace):
        _create(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        _create(
            client,
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": namespace},
            },
        )
    for namespace, objects in ((case.bad_namespace, case.bad), (case.good_namespace, case.good)):
        for obj in objects:
            create_object(client, obj, namespace)


def create_object(client: SyncClient, obj: Object, namespace: str) -> Object:
    """Create ``obj`` (in ``namespace`` when namespaced), then write its status."""
    body = copy.deepcopy(obj)
    status = body.pop("status", None)
    resource = client.run(client.client.resource(f"{body['apiVersion']}/{body['kind']}"))
    if resource.namespaced:
        body["metadata"]["namespace"] = namespace
    created = _create(client, body) if body["kind"] == "Namespace" else client.create(body)
    if status is not None:
        created["status"] = status
        created = client.replace(created, subresource="status")
    if body["kind"] == "CustomResourceDefinition":
        # Served before the next case object, which may be one of its kind.
        wait_for_crd_established(client, created["metadata"]["name"], timeout=30)
    return created


def _create(client: SyncClient, body: Object) -> Object:
    try:
        return client.create(body)
    except AlreadyExists:
        return client.get(body["kind"], body["metadata"]["name"], body["metadata"].get("namespace"))


def all_settings(cases: Iterable[Case]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for case in cases:
        for key, value in case.settings.items():
            merged.setdefault(key, [])
            merged[key] += [v for v in value if v not in merged[key]]
    return merged


def all_cases() -> list[Case]:
    """The cases of every module in the ``cases`` package."""
    from . import cases

    found: list[Case] = []
    for module in pkgutil.iter_modules(cases.__path__):
        found += importlib.import_module(f"{cases.__name__}.{module.name}").CASES
    return found


CASES = all_cases()
