"""``kubeops policy export``: the CEL policies of a policy directory as the native
objects the API server enforces with no webhook at all.

The policies are loaded and checked first (a policy kubeops refuses is never
exported), then written back as plain ``admissionregistration.k8s.io/v1`` objects
in apply order: each ValidatingAdmissionPolicy, the params its bindings name
(found among the directory's objects), then the bindings.  Bindings go out as
written: kubeops adds none, so a policy with no binding is exported and, as on
the API server, enforces nothing (``vap.unbound`` names such policies).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kubeops.policy import vap
from kubeops.policy.loader import read_documents

__all__ = ["export_policies", "native"]

_SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")


def native(value: Any) -> Any:
    """A loaded document as plain JSON data (no line marks), without the fields the
    API server sets (status, uid, resourceVersion, ...)."""
    if isinstance(value, Mapping):
        return {str(k): native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [native(item) for item in value]
    return value


def _clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = native(obj)
    plain.pop("status", None)
    meta = plain.get("metadata")
    if isinstance(meta, dict):
        for key in _SERVER_FIELDS:
            meta.pop(key, None)
    return plain


def export_policies(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Every ValidatingAdmissionPolicy under ``paths``, the params its bindings name, and
    the bindings, apply-ready and in apply order; :class:`PolicyLoadError` on bad input."""
    found = read_documents(paths)
    policies = vap.load(found.vaps, found.bindings)
    exported = [_clean(doc.value) for doc in found.vaps]
    seen: set[int] = set()
    for policy in policies:
        for param in _params(policy, [doc.value for doc in found.objects]):
            if id(param) not in seen:
                seen.add(id(param))
                exported.append(_clean(param))
    exported += [_clean(doc.value) for doc in found.bindings]
    return exported


def _params(policy: vap.CelPolicy, objects: list[Any]) -> list[Mapping[str, Any]]:
    """The directory's objects a binding's paramRef names."""
    kind, ref = policy.spec.param_kind, policy.bound.param_ref
    if kind is None or ref is None:
        return []
    chosen = []
    for obj in objects:
        if not isinstance(obj, Mapping) or (obj.get("apiVersion"), obj.get("kind")) != kind:
            continue
        meta = obj.get("metadata") or {}
        if ref.namespace and meta.get("namespace") != ref.namespace:
            continue
        if ref.name:
            if meta.get("name") == ref.name:
                chosen.append(obj)
        elif ref.selector is not None and ref.selector.matches(meta.get("labels") or {}):
            chosen.append(obj)
    return chosen
