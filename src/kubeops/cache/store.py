"""The indexed store an informer keeps its objects in (client-go's ``Indexer``).

Controllers read the cache far more often than it changes, and they look
objects up by something other than their key: the Pods on a node, the objects
in a namespace, the owner of a ReplicaSet.  An index function maps an object
to the values it is filed under, and the store keeps, per index, the keys
filed under each value, so such a lookup costs a dict access instead of a scan.

Every method holds one ``threading.RLock`` and none awaits, so the store is
safe to share between threads and between tasks of an event loop.  Objects
are stored and returned as they are, not copied: never change an object read
from the store; copy it first.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, cast

from kubeops.api import Object
from kubeops.cache.keys import DeletedFinalStateUnknown, KeyFunc, deletion_handling_key
from kubeops.errors import KubeopsError

__all__ = [
    "DEFAULT_STORE",
    "NAMESPACE_INDEX",
    "IndexConflict",
    "IndexFunc",
    "IndexFuncFailed",
    "Indexers",
    "LabelMatch",
    "Store",
    "StoreKind",
    "UnknownIndex",
    "index_by_namespace",
    "make_store",
]

IndexFunc = Callable[[Object], list[str]]
"""The values an object is filed under in one index (none, one or several)."""

LabelMatch = Callable[[Mapping[str, str] | None], bool]
"""Whether an object with these labels (None: no labels) is wanted, e.g. ``Selector.matches``."""

Indexers = dict[str, IndexFunc]

NAMESPACE_INDEX = "namespace"

StoreKind = Literal["compact", "dict"]
"""How an informer holds its objects: ``"compact"`` (JSON bytes, decoded on read) or
``"dict"`` (the decoded dicts themselves); see :func:`make_store`."""

DEFAULT_STORE: StoreKind = "dict"

# One index: value -> keys filed under it.  The keys are a dict used as an
# insertion-ordered set, so lookups return objects in a stable order.
_Index = dict[str, dict[str, None]]
# An object's values, by index name.
_Values = dict[str, list[str]]


def index_by_namespace(obj: Object) -> list[str]:
    """The namespace index: an object's namespace (``""`` for a cluster-scoped one)."""
    metadata = obj.get("metadata")
    if type(metadata) is dict or isinstance(metadata, Mapping):
        namespace = metadata.get("namespace")
        return [namespace if type(namespace) is str else ""]
    return [""]


class UnknownIndex(KubeopsError, LookupError):
    """A query named an index the store does not have."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        super().__init__(f"no index named {name!r}; the store has {sorted(known)}")


class IndexConflict(KubeopsError, ValueError):
    """An indexer was added under a name that is already taken."""


class IndexFuncFailed(KubeopsError):
    """An index function raised; the store is left as it was before the change."""

    def __init__(self, index: str, key: str, cause: BaseException) -> None:
        self.index = index
        self.key = key
        super().__init__(
            f"index {index!r} failed on object {key!r}: {type(cause).__name__}: {cause}"
        )


class Store:
    """A thread-safe map of key to object, with indices kept up to date on every change.

    The namespace index (:data:`NAMESPACE_INDEX`) is always present, because
    namespaced listers rely on it; passing :func:`index_by_namespace` under that
    name, as client-go code habitually does, is accepted.
    """

    def __init__(
        self,
        indexers: Mapping[str, IndexFunc] | None = None,
        *,
        key_func: KeyFunc = deletion_handling_key,
    ) -> None:
        self._lock = threading.RLock()
        self._key_func = key_func
        self._items: dict[str, Any] = {}
        self._indexers: Indexers = {NAMESPACE_INDEX: index_by_namespace}
        self._indices: dict[str, _Index] = {NAMESPACE_INDEX: {}}
        if indexers:
            self.add_indexers(indexers)

    # --- writes ------------------------------------------------------------------------------

    def add(self, obj: Object) -> None:
        """Store ``obj`` under its key, replacing any object stored there."""
        self.update(obj)

    def update(self, obj: Object) -> None:
        """Store ``obj`` under its key and refile it in every index."""
        self.put(self._key_func(obj), obj)

    def put(self, key: str, obj: Object) -> Object | None:
        """Store ``obj`` under ``key`` (its key, already computed); returns the object it replaced.

        One lock round for what an informer does per change: read the old object, store the new.
        """
        with self._lock:
            old = self._load(key)
            if len(self._indexers) == 1:
                # Only the namespace index (the common case), which cannot fail: no
                # per-index bookkeeping.
                value = index_by_namespace(obj)[0]
                index = self._indices[NAMESPACE_INDEX]
                if old is not None:
                    old_value = index_by_namespace(old)[0]
                    if old_value != value:
                        self._refile(key, {NAMESPACE_INDEX: [old_value]}, {})
                    else:
                        self._items[key] = self._encode(key, obj)
                        return old
                keys = index.get(value)
                if keys is None:
                    index[value] = {key: None}
                else:
                    keys[key] = None
                self._items[key] = self._encode(key, obj)
                return old
            new_values = self._values(obj, key, self._indexers)
            if old is None:
                for name, values in new_values.items():
                    index = self._indices[name]
                    for value in values:
                        keys = index.get(value)
                        if keys is None:
                            index[value] = {key: None}
                        else:
                            keys[key] = None
            else:
                self._refile(key, self._values(old, key, self._indexers), new_values)
            self._items[key] = self._encode(key, obj)
            return old

    def delete(self, obj: Object | DeletedFinalStateUnknown) -> None:
        """Remove the object stored under ``obj``'s key (a tombstone's key works too)."""
        self.delete_key(self._key_func(obj))

    def delete_key(self, key: str) -> None:
        """Remove the object stored under ``key``, if any, and its index entries."""
        with self._lock:
            old = self._load(key)
            if old is None:
                return
            old_values = self._values(old, key, self._indexers)
            del self._items[key]
            self._forget(key)
            self._refile(key, old_values, {})

    def replace(self, objects: Iterable[Object], resource_version: str = "") -> None:
        """Make ``objects`` the whole content and rebuild every index.

        ``resource_version`` is the list's, taken for the interface a reflector
        writes through; the store itself has no use for it.
        """
        del resource_version
        objs = {self._key_func(obj): obj for obj in objects}
        with self._lock:
            indices = self._build(objs, self._indexers)
            self._forget(None)
            self._items = {key: self._encode(key, obj) for key, obj in objs.items()}
            self._indices = indices

    def resync(self) -> None:
        """Nothing to do: a store has no pending work (the queue in front of it does)."""

    def repack(self) -> None:
        """Called once the first list is stored, to give back its transient memory
        (a compact store does; this one keeps the list's own dicts, so has nothing to do)."""

    # --- reads -------------------------------------------------------------------------------

    def get(self, obj: Object | DeletedFinalStateUnknown) -> Object | None:
        """The object stored under ``obj``'s key, or None."""
        return self.get_by_key(self._key_func(obj))

    def get_by_key(self, key: str) -> Object | None:
        """The object stored under ``key``, or None."""
        with self._lock:
            return self._load(key)

    def list(self) -> builtins.list[Object]:
        """Every stored object, in the order they were first stored."""
        with self._lock:
            return list(self._items.values())

    def select(self, matches: LabelMatch, namespace: str | None = None) -> builtins.list[Object]:
        """The objects (in ``namespace`` only, through its index, if given) whose labels
        ``matches`` accepts, in the order they were first stored.

        What listers call with a label selector: a compact store reads the labels it
        keeps and decodes only the objects chosen.
        """
        with self._lock:
            if namespace is None:
                keys: Iterable[str] = self._items
            else:
                keys = self._indices[NAMESPACE_INDEX].get(namespace, {})
            chosen = []
            for key in keys:
                obj = self._peek(key, self._items[key])
                metadata = obj.get("metadata")
                labels = metadata.get("labels") if isinstance(metadata, dict) else None
                if matches(labels if isinstance(labels, dict) else None):
                    chosen.append(obj)
            return chosen

    def list_keys(self) -> builtins.list[str]:
        """Every key."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    # --- indices -----------------------------------------------------------------------------

    @property
    def indexers(self) -> Indexers:
        """A copy of the index functions, by index name."""
        with self._lock:
            return dict(self._indexers)

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add indices, at any time: objects already stored are indexed at once.

        Raises :class:`IndexConflict` if a name is taken (by another function),
        and :class:`IndexFuncFailed` if a function fails on a stored object; in
        both cases no index is added.
        """
        with self._lock:
            added: Indexers = {}
            for name, func in indexers.items():
                if name in self._indexers:
                    if self._indexers[name] is func:
                        continue
                    raise IndexConflict(
                        f"cannot add index {name!r}: the store already has an index by that name"
                    )
                added[name] = func
            if added:
                objs = {key: self._peek(key, stored) for key, stored in self._items.items()}
                self._indices.update(self._build(objs, added))
                self._indexers.update(added)

    def by_index(self, index_name: str, value: str) -> builtins.list[Object]:
        """The objects filed under ``value`` in the index ``index_name``."""
        with self._lock:
            keys = self._index(index_name).get(value, {})
            return [self._peek(key, self._items[key]) for key in keys]

    def index_keys(self, index_name: str, value: str) -> builtins.list[str]:
        """The keys filed under ``value`` in the index ``index_name``."""
        with self._lock:
            return list(self._index(index_name).get(value, {}))

    def index(self, index_name: str, obj: Object) -> builtins.list[Object]:
        """The objects sharing any of ``obj``'s values in the index ``index_name``."""
        with self._lock:
            index = self._index(index_name)
            indexer = {index_name: self._indexers[index_name]}
            values = self._values(obj, self._key_func(obj), indexer)[index_name]
            keys: dict[str, None] = {}
            for value in values:
                keys.update(index.get(value, {}))
            return [self._peek(key, self._items[key]) for key in keys]

    def list_index_values(self, index_name: str) -> builtins.list[str]:
        """The values that have at least one object filed under them in ``index_name``."""
        with self._lock:
            return list(self._index(index_name))

    # --- how objects are held (a compact store overrides these) -----------------------------

    def _encode(self, key: str, obj: Object) -> Any:
        """What is kept for ``obj``: the object itself."""
        del key
        return obj

    def _decode(self, key: str, stored: Any) -> Object:
        """The object from what is kept."""
        del key
        return cast(Object, stored)

    def _peek(self, key: str, stored: Any) -> Object:
        """The object from what is kept, for a bulk read (a compact store caches none of these)."""
        return self._decode(key, stored)

    def _load(self, key: str) -> Object | None:
        """The object under ``key``, or None (under the lock)."""
        return cast("Object | None", self._items.get(key))

    def _forget(self, key: str | None) -> None:
        """Drop any decoded copy of ``key`` (None: of every key); the plain store keeps none."""

    # --- internals ---------------------------------------------------------------------------

    def _index(self, name: str) -> _Index:
        index = self._indices.get(name)
        if index is None:
            raise UnknownIndex(name, self._indexers)
        return index

    @staticmethod
    def _values(obj: Object, key: str, indexers: Indexers) -> _Values:
        # Computed before anything changes, so a failing index function leaves
        # the store as it was (client-go panics instead).
        values: _Values = {}
        for name, func in indexers.items():
            try:
                result = func(obj)
                if type(result) is not list:
                    if isinstance(result, str):
                        raise TypeError(f"returned the str {result!r}, not a list of str")
                    result = list(result)
            except Exception as err:
                raise IndexFuncFailed(name, key, err) from err
            values[name] = result
        return values

    def _refile(
        self,
        key: str,
        old_values: _Values,
        new_values: _Values,
    ) -> None:
        for name, index in self._indices.items():
            old = old_values.get(name, [])
            new = new_values.get(name, [])
            if old == new:
                continue
            for value in old:
                if value in new:
                    continue
                keys = index.get(value)
                if keys is not None:
                    keys.pop(key, None)
                    if not keys:
                        del index[value]
            for value in new:
                index.setdefault(value, {})[key] = None

    @classmethod
    def _build(cls, items: Mapping[str, Object], indexers: Indexers) -> dict[str, _Index]:
        indices: dict[str, _Index] = {name: {} for name in indexers}
        for key, obj in items.items():
            for name, values in cls._values(obj, key, indexers).items():
                index = indices[name]
                for value in values:
                    index.setdefault(value, {})[key] = None
        return indices

    def __repr__(self) -> str:
        with self._lock:
            return f"<Store {len(self._items)} objects, indices {sorted(self._indexers)}>"


def make_store(
    kind: StoreKind,
    indexers: Mapping[str, IndexFunc] | None = None,
    *,
    key_func: KeyFunc = deletion_handling_key,
) -> Store:
    """The store an informer's ``store=`` option names.

    ``"compact"`` keeps each object as its JSON encoding (a fraction of a dict's
    memory; reads decode), ``"dict"`` keeps the dicts (reads cost nothing).
    """
    if kind == "dict":
        return Store(indexers, key_func=key_func)
    if kind == "compact":
        from kubeops.cache.compact_store import CompactStore  # here: that module imports this one

        return CompactStore(indexers, key_func=key_func)
    raise ValueError(f"unknown store {kind!r}: expected 'compact' or 'dict'")
