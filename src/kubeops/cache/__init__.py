"""Informers and their caches: reflector, delta FIFO, indexed store, listers;
:class:`SyncInformer` for blocking code."""

from kubeops.cache.compact_store import CompactStore, UnstorableObject
from kubeops.cache.delta_fifo import (
    Delta,
    DeltaFIFO,
    Deltas,
    DeltaType,
    FIFOClosed,
    KnownObjects,
    PopProcess,
    Requeue,
    TransformFunc,
    strip_managed_fields,
)
from kubeops.cache.factory import SharedInformerFactory
from kubeops.cache.informer import Registration, SharedInformer, is_fatal_watch_error
from kubeops.cache.keys import (
    DeletedFinalStateUnknown,
    InvalidKey,
    KeyFunc,
    deletion_handling_key,
    object_key,
    split_key,
)
from kubeops.cache.lister import Lister, NamespaceLister
from kubeops.cache.reflector import Reflector, ReflectorBackoff
from kubeops.cache.store import (
    DEFAULT_STORE,
    NAMESPACE_INDEX,
    IndexConflict,
    Indexers,
    IndexFunc,
    IndexFuncFailed,
    Store,
    StoreKind,
    UnknownIndex,
    index_by_namespace,
    make_store,
)
from kubeops.cache.sync import SyncInformer

__all__ = [
    "DEFAULT_STORE",
    "NAMESPACE_INDEX",
    "CompactStore",
    "DeletedFinalStateUnknown",
    "Delta",
    "DeltaFIFO",
    "DeltaType",
    "Deltas",
    "FIFOClosed",
    "IndexConflict",
    "IndexFunc",
    "IndexFuncFailed",
    "Indexers",
    "InvalidKey",
    "KeyFunc",
    "KnownObjects",
    "Lister",
    "NamespaceLister",
    "PopProcess",
    "Reflector",
    "ReflectorBackoff",
    "Registration",
    "Requeue",
    "SharedInformer",
    "SharedInformerFactory",
    "Store",
    "StoreKind",
    "SyncInformer",
    "TransformFunc",
    "UnknownIndex",
    "UnstorableObject",
    "deletion_handling_key",
    "index_by_namespace",
    "is_fatal_watch_error",
    "make_store",
    "object_key",
    "split_key",
    "strip_managed_fields",
]
