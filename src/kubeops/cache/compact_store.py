"""A store that keeps each object as its JSON encoding (``store="compact"``).

A decoded Pod is a tree of small dicts, lists and strings that costs Python
five to ten times its JSON size; a cache of a large cluster is mostly that
overhead.  This store keeps the orjson encoding instead and decodes an object
when it is read, so the cache costs about what the API server sent.  Readers
still get plain dicts: the recently read or written ones come from a small
cache (the same dict each time), the others are decoded afresh, so a lister
``get`` costs one decode on a miss and a ``list`` one decode per object.  Index
values are computed when an object is stored, as in :class:`Store`.
"""

from __future__ import annotations

import builtins
import functools
import weakref
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import orjson

from kubeops.api import Object
from kubeops.cache.gc_pause import paused
from kubeops.cache.keys import KeyFunc, deletion_handling_key
from kubeops.cache.store import NAMESPACE_INDEX, IndexFunc, LabelMatch, Store
from kubeops.errors import KubeopsError

__all__ = ["RECENT", "CompactStore", "UnstorableObject"]

RECENT = 256
"""How many decoded objects a compact store keeps at hand, most recently used first out last."""


class UnstorableObject(KubeopsError, ValueError):
    """An object (as a transform left it) that JSON cannot encode, so a compact store cannot hold it."""


_REFILL_KEYS = 32768  # orjson's key cache has 2,048 slots: this many keys reach every one


@functools.cache
def _refill_document() -> bytes:
    return b"{" + b",".join(b'"%d":0' % i for i in range(_REFILL_KEYS)) + b"}"


def _refill_decoder_key_cache() -> None:
    """Replace the keys orjson's decoder caches (those of the list just decoded, allocated
    among its objects) with fresh ones, allocated now that the list is freed."""
    orjson.loads(_refill_document())


def _copy(text: str) -> str:
    # str(text), text[:] and copy.copy all return the same object.
    return "".join([text[:1], text[1:]])


_BULK = 256  # a read decoding at least this many objects holds the collector off


class _Labels(dict[str, str]):
    """An object's labels as a compact store keeps them: one shared copy per distinct set."""

    __slots__ = ("__weakref__",)


def _labels_of(obj: Object) -> dict[str, str] | None:
    metadata = obj.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    return labels if isinstance(labels, dict) and labels else None


class CompactStore(Store):
    """:class:`Store` with every object held as orjson bytes and decoded on read.

    ``recent`` decoded objects are kept (least recently used dropped first), so
    reading the same few objects again, or an object just stored, costs no decode.
    """

    def __init__(
        self,
        indexers: Mapping[str, IndexFunc] | None = None,
        *,
        key_func: KeyFunc = deletion_handling_key,
        recent: int = RECENT,
    ) -> None:
        self._recent: dict[str, Object] = {}
        self._recent_size = max(0, recent)
        # Each object's labels (absent: none), kept so that a label selector decodes only
        # the objects it selects; objects with the same labels share one copy.
        self._labels: dict[str, _Labels] = {}
        self._label_sets: weakref.WeakValueDictionary[tuple[tuple[str, str], ...], _Labels] = (
            weakref.WeakValueDictionary()
        )
        super().__init__(indexers, key_func=key_func)

    def list(self) -> builtins.list[Object]:
        """Every stored object, in the order they were first stored (each decoded)."""
        with self._lock:
            return self._decode_all(self._items)

    def by_index(self, index_name: str, value: str) -> builtins.list[Object]:
        """The objects filed under ``value`` in the index ``index_name`` (each decoded)."""
        with self._lock:
            return self._decode_all(self._index(index_name).get(value, {}))

    def select(self, matches: LabelMatch, namespace: str | None = None) -> builtins.list[Object]:
        """The objects (in ``namespace`` only, if given) whose labels ``matches`` accepts;
        only those are decoded, and each distinct label set is matched once."""
        with self._lock:
            if namespace is None:
                keys: Iterable[str] = self._items
            else:
                keys = self._indices[NAMESPACE_INDEX].get(namespace, {})
            labels_of = self._labels.get
            verdicts: dict[int, bool] = {}
            chosen = []
            for key in keys:
                labels = labels_of(key)
                verdict = verdicts.get(id(labels))
                if verdict is None:
                    verdict = verdicts[id(labels)] = matches(labels)
                if verdict:
                    chosen.append(key)
            return self._decode_all(chosen)

    def _decode_all(self, keys: Collection[str]) -> builtins.list[Object]:
        items, recent = self._items, self._recent
        if len(keys) < _BULK:
            return [recent[key] if key in recent else orjson.loads(items[key]) for key in keys]
        with paused():  # decoded objects are trees: a collection meanwhile frees nothing
            return [recent[key] if key in recent else orjson.loads(items[key]) for key in keys]

    def repack(self) -> None:
        """Copy every key and index value into fresh strings, once a large fill is over.

        The keys of a first list are allocated while the whole decoded list is alive,
        interleaved with it; kept, they pin most of its freed memory in Python's
        allocator.  Fresh copies made after it is freed let that memory go back to
        the system (measured: 130 MiB instead of 37 MiB for 10,000 Pods).  The same
        holds for the keys orjson keeps in its decoder's cache (a Pod's managedFields
        name its IPs in keys, so each Pod adds new ones): they are replaced too
        (measured on 5,000 kwok-run Pods: 179 MiB instead of 75 MiB).
        """
        with self._lock:
            fresh = {key: _copy(key) for key in self._items}  # one copy per key, shared
            self._items = {fresh[key]: data for key, data in self._items.items()}
            self._indices = {
                name: {
                    _copy(value): {fresh.get(key) or _copy(key): None for key in keys}
                    for value, keys in index.items()
                }
                for name, index in self._indices.items()
            }
            self._recent.clear()
            self._label_sets = weakref.WeakValueDictionary()
            self._labels = {
                fresh.get(key) or _copy(key): self._shared_labels(
                    {_copy(k): _copy(v) for k, v in labels.items()}
                )
                for key, labels in self._labels.items()
            }
        _refill_decoder_key_cache()

    def _encode(self, key: str, obj: Object) -> Any:
        try:
            # orjson's buffer is over-allocated (about 8 KiB for a 3 KiB Pod): keep an
            # exact-size copy instead.
            data = bytes(memoryview(orjson.dumps(obj)))
        except TypeError as err:  # orjson.JSONEncodeError
            raise UnstorableObject(f"cannot store {key!r}: {err}") from err
        labels = _labels_of(obj)
        if labels is None:
            self._labels.pop(key, None)
        else:
            self._labels[key] = self._shared_labels(labels)
        # Not remembered: the writer (the informer's handlers) has this dict already, and
        # remembering every object of a list would cost as much as encoding it.
        self._recent.pop(key, None)
        return data

    def _decode(self, key: str, stored: Any) -> Object:
        obj = self._recent.get(key)
        if obj is None:
            obj = orjson.loads(stored)
            assert isinstance(obj, dict)
        self._remember(key, obj)
        return obj

    def _peek(self, key: str, stored: Any) -> Object:
        obj = self._recent.get(key)
        return obj if obj is not None else orjson.loads(stored)

    def _load(self, key: str) -> Object | None:
        stored = self._items.get(key)
        return None if stored is None else self._decode(key, stored)

    def _shared_labels(self, labels: Mapping[str, str]) -> _Labels:
        items = tuple(labels.items())
        shared = self._label_sets.get(items)
        if shared is None:
            shared = self._label_sets[items] = _Labels(labels)
        return shared

    def _forget(self, key: str | None) -> None:
        # Called when an object is deleted (None: before a replace stores every object anew).
        if key is None:
            self._recent.clear()
            self._labels.clear()
        else:
            self._recent.pop(key, None)
            self._labels.pop(key, None)

    def _remember(self, key: str, obj: Object) -> None:
        recent = self._recent
        recent.pop(key, None)
        if self._recent_size:
            recent[key] = obj
            if len(recent) > self._recent_size:
                del recent[next(iter(recent))]

    def __repr__(self) -> str:
        with self._lock:
            size = sum(len(data) for data in self._items.values())
            return (
                f"<CompactStore {len(self._items)} objects ({size} bytes encoded), "
                f"indices {sorted(self._indexers)}>"
            )
