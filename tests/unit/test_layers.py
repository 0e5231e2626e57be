"""The import graph DESIGN.md draws: data flows one way, and everything above ``api``
talks to Kubernetes through ``Client`` -- never through the transport.

Each module's imports are read from its source (lazy imports inside functions
included), so a shortcut taken anywhere fails here, naming the module and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kubeops

SRC = Path(kubeops.__file__).parent

# DESIGN.md's layer table, top to bottom: a layer imports only from those before it.
LAYERS = [
    "config",
    "transport",
    "api",
    "models",
    "cel",
    "cache",
    "workqueue",
    "controller",
    "ops",
    "inspect",
    "respond",
    "sync",
    "policy",
    "testenv",
    "cli",
]
SHARED = {"kubeops", "kubeops.errors", "kubeops.__main__"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "kubeops"]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def _modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        modules.append((name, path))
    return modules


def test_the_walk_sees_every_layer() -> None:
    seen = {_layer(name) for name, _ in _modules()}
    assert {"config", "transport", "api", "cache", "ops", "inspect", "cli"} <= seen


def test_nothing_above_api_imports_the_transport() -> None:
    above_api = set(LAYERS[LAYERS.index("api") + 1 :])
    offenders = [
        f"{name}:{line} imports {imported}"
        for name, path in _modules()
        if _layer(name) in above_api
        for line, imported in _imports(path)
        if imported == "kubeops.transport" or imported.startswith("kubeops.transport.")
    ]
    assert offenders == [], "use kubeops.api / kubeops.errors instead:\n" + "\n".join(offenders)


def test_each_layer_imports_only_the_layers_before_it() -> None:
    offenders = []
    for name, path in _modules():
        layer = _layer(name)
        if layer is None:
            continue
        allowed = set(LAYERS[: LAYERS.index(layer) + 1])
        for line, imported in _imports(path):
            target = _layer(imported)
            if imported in SHARED or target is None:
                continue
            if target not in allowed:
                offenders.append(f"{name}:{line} ({layer}) imports {imported} ({target})")
    assert offenders == [], "\n".join(offenders)


def test_the_package_root_gives_the_clients_errors_and_version() -> None:
    assert kubeops.Client.__name__ == "Client"
    assert kubeops.SyncClient.__name__ == "SyncClient"
    assert issubclass(kubeops.errors.NotFound, kubeops.KubeopsError)
    assert issubclass(kubeops.errors.ConfigError, kubeops.errors.KubeopsError)
    assert kubeops.__version__.count(".") == 2
