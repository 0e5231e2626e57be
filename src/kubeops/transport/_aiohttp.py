"""aiohttp, imported without loading the system CA bundle twice on the way.

At import, aiohttp builds two default SSL contexts (verified and unverified), each
reading the system's CA bundle: ~35 ms of a ``kubeops get`` that takes ~300 ms.
The transport never uses them -- it passes its own context for https (the
kubeconfig's CA, the client certificate) and ``ssl=False`` for plain http -- but
other aiohttp users in the process may, so they are kept and load their roots the
first time one of them wraps a connection.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

_deferred: list[ssl.SSLContext] = []
_lock = threading.Lock()


class _RootsOnFirstUse(ssl.SSLContext):
    """A context whose default CA roots are loaded when it is first used, then an
    ordinary ``ssl.SSLContext`` again."""

    def _load_roots(self) -> None:
        with _lock:
            if type(self) is _RootsOnFirstUse:
                ssl.SSLContext.set_default_verify_paths(self)
                self.__class__ = ssl.SSLContext  # type: ignore[assignment]

    def wrap_socket(self, *args: Any, **kwargs: Any) -> Any:
        self._load_roots()
        return ssl.SSLContext.wrap_socket(self, *args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> Any:
        self._load_roots()
        return ssl.SSLContext.wrap_bio(self, *args, **kwargs)

    def get_ca_certs(self, binary_form: bool = False) -> Any:
        self._load_roots()
        return ssl.SSLContext.get_ca_certs(self, binary_form)

    def cert_store_stats(self) -> Any:
        self._load_roots()
        return ssl.SSLContext.cert_store_stats(self)


def _defer(context: ssl.SSLContext) -> None:
    _deferred.append(context)


ssl.SSLContext.set_default_verify_paths = _defer  # type: ignore[method-assign,assignment]
try:
    import aiohttp  # its connector module builds the two contexts
finally:
    del ssl.SSLContext.set_default_verify_paths  # the C method shows through again
for _context in _deferred:
    if type(_context) is ssl.SSLContext:
        _context.__class__ = _RootsOnFirstUse
    else:  # another thread's own kind of context, made meanwhile: no later than it asked
        ssl.SSLContext.set_default_verify_paths(_context)
_deferred.clear()

__all__ = ["aiohttp"]
