"""Names a package re-exports but imports only on first use (PEP 562).

The package faces that everything reaches for -- ``kubeops``, ``kubeops.errors``,
``kubeops.config``, ``kubeops.transport`` -- stay cheap to import this way: the
command line starts without loading aiohttp or every parser, and the layers below
can import ``kubeops.errors`` without an import cycle.  Type checkers see the
names through each package's ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, defined_in: Mapping[str, str], exported: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` for ``package``: a name in
    ``defined_in`` is imported from its module when first asked for, then kept."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = defined_in.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return exported

    return __getattr__, __dir__
