"""How checks read API objects: every field may be absent, null or (in a manifest)
of the wrong type, and a check must judge what it can rather than fail.

Shared by every check module; nothing here judges anything.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from kubeops.models.selector import Selector, SelectorError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kubeops.api import Object


def _mapping(obj: Object, key: str) -> Object:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def spec(obj: Object) -> Object:
    """The object's ``spec`` ({} when absent or not a mapping, as in a bad manifest)."""
    return _mapping(obj, "spec")


def status(obj: Object) -> Object:
    """The object's ``status`` ({} when absent or not a mapping)."""
    return _mapping(obj, "status")


def meta(obj: Object) -> Object:
    """The object's ``metadata`` ({} when absent or not a mapping)."""
    return _mapping(obj, "metadata")


def namespace(obj: Object) -> str | None:
    """The object's namespace, or None (cluster-scoped, or left out of a manifest)."""
    return meta(obj).get("namespace") or None


def name(obj: Object) -> str:
    """The object's name ("" when absent)."""
    return str(meta(obj).get("name", ""))


def integer(value: Any, default: int = 0) -> int:
    """An int from an API field that may be absent or (in a manifest) a string."""
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def replicas(obj: Object) -> int:
    """The replicas a workload asks for; an absent field means 1, as the API defaults it."""
    return integer(spec(obj).get("replicas"), 1)


def conditions(obj: Object) -> dict[str, Object]:
    """Status conditions by type."""
    found: dict[str, Object] = {}
    for condition in status(obj).get("conditions") or []:
        if isinstance(condition, dict):
            found[str(condition.get("type", ""))] = condition
    return found


def condition_true(obj: Object, kind: str) -> Object | None:
    """The status condition of type ``kind`` when its status is True, else None."""
    condition = conditions(obj).get(kind)
    return condition if condition is not None and condition.get("status") == "True" else None


def explain(condition: Object) -> str:
    """``reason: message`` of a condition (or a status), "" when it has neither."""
    return ": ".join(str(x) for x in (condition.get("reason"), condition.get("message")) if x)


def clip(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters, ending in "..." when cut (long kubelet messages)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def template_labels(obj: Object) -> dict[str, str]:
    """The labels of a workload's Pod template."""
    template = spec(obj).get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def container_label(kind: str, container: Object) -> str:
    """How a message names a container (or its status): ``init container "setup"``."""
    return f'{kind} "{container.get("name", "")}"'


def label_selector(value: Any) -> Selector | None:
    """An API ``LabelSelector`` as a :class:`Selector`; None when it is malformed."""
    try:
        return Selector.from_label_selector(value)
    except (SelectorError, TypeError):
        return None


def class_names(classes: Iterable[Object], default_annotation: str) -> tuple[set[str], bool]:
    """The names of a cluster's classes (IngressClasses, StorageClasses), and whether
    one of them is marked the default by ``default_annotation``."""
    names: set[str] = set()
    has_default = False
    for cls in classes:
        names.add(name(cls))
        has_default |= (meta(cls).get("annotations") or {}).get(default_annotation) == "true"
    return names, has_default


class Lookup:
    """Values by (namespace, key), built once per check.

    In static mode a manifest often leaves its namespace out (``kubectl apply -n``
    or a Helm release sets it), so there an absent namespace matches any: a
    namespace-less Service answers for an Ingress in ``shop`` and the other way
    round.  Live objects always carry their namespace and match exactly.
    """

    def __init__(self, static: bool) -> None:
        self.static = static
        self._exact: dict[tuple[str | None, Any], list[Any]] = defaultdict(list)
        self._any: dict[Any, list[Any]] = defaultdict(list)

    def add(self, ns: str | None, key: Any, value: Any) -> None:
        """Record ``value`` under (``ns``, ``key``)."""
        self._exact[(ns, key)].append(value)
        if self.static:
            self._any[key].append(value)

    def get(self, ns: str | None, key: Any) -> list[Any]:
        """The values under (``ns``, ``key``); in static mode an absent namespace matches any."""
        if not self.static:
            return self._exact.get((ns, key), [])
        if ns is None:
            return self._any.get(key, [])
        return self._exact.get((ns, key), []) + self._exact.get((None, key), [])
