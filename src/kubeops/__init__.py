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

from typing import TYPE_CHECKING

from kubeops import errors
from kubeops._exports import lazy_exports
from kubeops.errors import KubeopsError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kubeops.api import Client, SyncClient

_LAZY = {"Client": "kubeops.api", "SyncClient": "kubeops.api"}

__all__ = ["Client", "KubeopsError", "SyncClient", "__version__", "errors"]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
