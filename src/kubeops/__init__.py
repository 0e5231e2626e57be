"""kubeops: Kubernetes operations automation for Python.

``import kubeops`` gives the clients, the errors and the version::

    async with kubeops.Client() as client: ...
    with kubeops.SyncClient() as client: ...
    except kubeops.errors.NotFound: ...

Everything else lives in the package named for its Kubernetes concept
(``kubeops.cache``, ``kubeops.controller``, ``kubeops.ops``...).  The clients are
imported on first use, so ``kubeops --version`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kubeops import errors
from kubeops.errors import KubeopsError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kubeops.api import Client, SyncClient

_LAZY = {"Client": "kubeops.api", "SyncClient": "kubeops.api"}

__all__ = ["Client", "KubeopsError", "SyncClient", "__version__", "errors"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kubeops' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
