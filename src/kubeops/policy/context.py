"""The answers a policy gets when no cluster is asked: the manifests under review
and the objects of the policy directory (params, Namespaces, quotas, limit ranges).

``policy test`` and ``apply --policies`` use it; the webhook and the audit answer
the same questions from the cluster's caches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubeops.policy.model import Object


class StaticContext:
    """A :class:`~kubeops.policy.model.Context` over a fixed set of objects."""

    def __init__(self, objects: Iterable[Object] = ()) -> None:
        self._by_kind: dict[tuple[str, str], list[Object]] = {}
        # By kind and namespace too: the quota check asks once per manifest.
        self._by_namespace: dict[tuple[str, str, str], list[Object]] = {}
        for obj in objects:
            if isinstance(obj, dict):
                key = (str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
                self._by_kind.setdefault(key, []).append(obj)
                namespace = str((obj.get("metadata") or {}).get("namespace") or "")
                self._by_namespace.setdefault((*key, namespace), []).append(obj)

    def namespace(self, name: str) -> Object | None:
        """The Namespace manifest ``name``, if the set has one."""
        for obj in self._by_kind.get(("v1", "Namespace"), []):
            if (obj.get("metadata") or {}).get("name") == name:
                return obj
        return None

    def objects(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> Sequence[Object]:
        """The set's objects of this kind, in ``namespace`` when given."""
        if namespace is None:
            return list(self._by_kind.get((api_version, kind), []))
        return list(self._by_namespace.get((api_version, kind, namespace), []))

    def authorize(self, attributes: Mapping[str, Any]) -> tuple[str, str] | None:
        """No authorizer in CI: None (a policy that needs one reports it cannot decide)."""
        return None
