"""Informers and their caches: reflector, delta FIFO, indexed store, listers."""

from kubeops.cache.blocking import BlockingInformer
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
from kubeops.cache.informer import Registration, SharedInformer
from kubeops.cache.keys import (
    DeletedFinalStateUnknown,
    InvalidKey,
    KeyFunc,
    Object,
    deletion_handling_key,
    object_key,
    split_key,
)
from kubeops.cache.lister import Lister, NamespaceLister
from kubeops.cache.reflector import Reflector, ReflectorBackoff
from kubeops.cache.store import (
    NAMESPACE_INDEX,
    IndexConflict,
    Indexers,
    IndexFunc,
    IndexFuncFailed,
    Store,
    UnknownIndex,
    index_by_namespace,
)

__all__ = [
    "NAMESPACE_INDEX",
    "BlockingInformer",
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
    "Object",
    "PopProcess",
    "Reflector",
    "ReflectorBackoff",
    "Registration",
    "Requeue",
    "SharedInformer",
    "SharedInformerFactory",
    "Store",
    "TransformFunc",
    "UnknownIndex",
    "deletion_handling_key",
    "index_by_namespace",
    "object_key",
    "split_key",
    "strip_managed_fields",
]
