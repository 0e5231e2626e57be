"""Every public function, class and method says what it is for.

Read at run time, after decorators ran: a check registered with
``register_check`` gets its catalogue rationale as its docstring, an
``@either_client`` operation keeps its async function's.  Private modules and
names (a leading underscore) and the generated models are left out.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import kubeops

SKIPPED_PACKAGES = ("kubeops.models.generated",)
INHERITED_FROM = (object, Exception, BaseException, dict, tuple, str, int)


def _modules() -> Iterator[ModuleType]:
    yield kubeops
    for info in pkgutil.walk_packages(kubeops.__path__, "kubeops."):
        name = info.name
        if any(part.startswith("_") for part in name.split(".")[1:]):
            continue
        if name.startswith(SKIPPED_PACKAGES):
            continue
        yield importlib.import_module(name)


def _own(module: ModuleType) -> Iterator[tuple[str, object]]:
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(value) or callable(value):
            yield name, value


def _undocumented() -> Iterator[str]:
    for module in _modules():
        for name, value in _own(module):
            if not (inspect.getdoc(value) or "").strip():
                yield f"{module.__name__}.{name}"
            if not inspect.isclass(value):
                continue
            for attr, member in vars(value).items():
                if attr.startswith("_"):
                    continue
                function = member.fget if isinstance(member, property) else member
                if isinstance(function, (staticmethod, classmethod)):
                    function = function.__func__
                if not inspect.isfunction(function):
                    continue
                if function.__doc__ is None or not function.__doc__.strip():
                    yield f"{module.__name__}.{name}.{attr}"


def test_every_public_function_class_and_method_has_a_docstring() -> None:
    missing = sorted(set(_undocumented()))
    assert missing == [], f"{len(missing)} without a docstring:\n" + "\n".join(missing)
