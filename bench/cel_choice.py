"""Which Python CEL library kubeops.cel builds on, measured rather than guessed.

Candidates (PyPI): cel-expr-python (Google's cel-cpp behind pybind11),
common-expression-language (the Rust ``cel`` crate behind PyO3), cel-python
(``celpy``, pure Python).  For each: import time, compile and evaluation time of
typical respond rules over a realistic Pod, and the behaviours rules depend on --
a missing field, ``has()``, optional fields ``.?``, type errors caught when the
rule is loaded, a custom function called as a method (Kubernetes' ``quantity``
library needs one) and the column in a syntax error.  Results go to
docs/decisions.md; the libraries are not all dependencies of kubeops, so run it in
a throwaway virtualenv holding the three:

    python -m venv V && V/bin/pip install cel-expr-python common-expression-language cel-python
    PYTHONPATH=src V/bin/python bench/cel_choice.py   # src: kubeops.cel's own row

Each timing is the median of rounds bounded by a small time budget, so the whole
run stays within a few CPU seconds per library.
"""

from __future__ import annotations

import importlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

BUDGET = 0.4  # seconds of timing per (library, expression, phase)

RULES = {
    "exists": "object.status.containerStatuses.exists(c, c.restartCount > 3)",
    "labels&&old": "object.metadata.labels['app'] == 'web' && oldObject.spec.replicas < object.spec.replicas",
    "has": "has(object.metadata.annotations) && has(object.spec.nodeName)",
    "size+str": "size(object.spec.containers) > 1 && object.metadata.name.startsWith('web-') && object.spec.containers.all(c, c.image.contains(':'))",
    "filter/map": "object.spec.containers.filter(c, c.resources.requests.memory.endsWith('Mi')).map(c, c.name).size() == 2",
    "matches": "object.metadata.name.matches('^web-[a-z0-9]+$') && string(object.spec.replicas) == '3'",
}

CHECKS = {
    "missing field": "object.spec.missing == 1",
    "has(missing)": "has(object.spec.missing)",
    "null oldObject": "oldObject.spec.replicas == 3",
    "optional .?": "object.?spec.missing.orValue(0) == 0",
    "int==string": "object.spec.replicas == 'three'",
    "type error": "object.metadata.name + 1 == 2 && size(1) == 1",
    "int*double": "object.spec.replicas * 1.5 > 1.0",
    "timestamp": "timestamp(object.metadata.creationTimestamp) < timestamp('2030-01-01T00:00:00Z')",
    "quantity()": "quantity('500m').isLessThan(quantity('1'))",
    "syntax error": "object.spec.replicas >",
}


def _pod(name: str, replicas: int) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "registry.example.com/web:1.2.3",
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": f"VAR_{i}", "value": f"value-{i}"} for i in range(8)],
        "resources": {
            "requests": {"cpu": "250m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "256Mi"},
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "prod",
            "uid": "8c6f6a2e-0000-4000-8000-000000000001",
            "resourceVersion": "123456",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web", "tier": "frontend", "pod-template-hash": "5d8f7c9b4"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f7c9b4"}
            ],
        },
        "spec": {
            "replicas": replicas,
            "nodeName": "node-1",
            "containers": [container, {**container, "name": "sidecar"}],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": "app", "restartCount": 5, "ready": True},
                {"name": "sidecar", "restartCount": 0, "ready": True},
            ],
        },
    }


POD = _pod("web-abc12", 3)
OLD = _pod("web-abc12", 2)
ACTIVATION = {"object": POD, "oldObject": OLD, "payload": {}, "event": {"name": "modified"}}
NULL_OLD = {**ACTIVATION, "oldObject": None}


def _median_us(fn: Callable[[], object]) -> float:
    samples: list[float] = []
    deadline = time.perf_counter() + BUDGET
    while time.perf_counter() < deadline or len(samples) < 5:
        start = time.perf_counter()
        for _ in range(10):
            fn()
        samples.append((time.perf_counter() - start) / 10)
    return statistics.median(samples) * 1e6


class Candidate:
    """One library behind the same three calls: compile, evaluate, custom quantity()."""

    name = ""
    module = ""

    def compile(self, expression: str) -> Any:
        raise NotImplementedError

    def evaluate(self, program: Any, activation: dict[str, Any]) -> Any:
        raise NotImplementedError


def _quantity_value(text: str) -> float:
    suffixes = {"m": 1e-3, "": 1.0, "k": 1e3, "Mi": 2**20, "Gi": 2**30}
    for suffix in sorted(suffixes, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            return float(text[: -len(suffix)]) * suffixes[suffix]
    return float(text)


class CelExprPython(Candidate):
    name = "cel-expr-python"
    module = "cel_expr_python.cel"

    def __init__(self) -> None:
        from cel_expr_python import cel
        from cel_expr_python.ext import ext_optional, ext_strings

        self.cel = cel
        tagged = cel.Type.Map(cel.Type.STRING, cel.Type.STRING)
        functions = [
            cel.FunctionDecl(
                "quantity",
                [
                    cel.Overload(
                        "quantity_string",
                        tagged,
                        [cel.Type.STRING],
                        impl=lambda s: {"q": s},
                    )
                ],
            ),
            cel.FunctionDecl(
                "isLessThan",
                [
                    cel.Overload(
                        "quantity_isLessThan",
                        cel.Type.BOOL,
                        [tagged, tagged],
                        is_member=True,
                        impl=lambda a, b: _quantity_value(a["q"]) < _quantity_value(b["q"]),
                    )
                ],
            ),
        ]
        self.env = cel.NewEnv(
            variables=dict.fromkeys(ACTIVATION, cel.Type.DYN),
            extensions=[ext_optional.ExtOptional(), ext_strings.ExtStrings()],
            functions=functions,
        )

    def compile(self, expression: str) -> Any:
        return self.env.compile(expression)

    def evaluate(self, program: Any, activation: dict[str, Any]) -> Any:
        value = program.eval(data=activation)
        if value.type() == self.cel.Type.ERROR:
            raise RuntimeError(value.value())
        return value.value()


class CommonExpressionLanguage(Candidate):
    name = "common-expression-language"
    module = "cel"

    def __init__(self) -> None:
        import cel

        self.cel = cel
        self.functions = {
            "quantity": lambda s: {"q": s},
            "isLessThan": lambda a, b: _quantity_value(a["q"]) < _quantity_value(b["q"]),
        }

    def compile(self, expression: str) -> Any:
        return self.cel.compile(expression)

    def evaluate(self, program: Any, activation: dict[str, Any]) -> Any:
        return program.execute(self.cel.Context(activation, self.functions))


class CelPython(Candidate):
    name = "cel-python"
    module = "celpy"

    def __init__(self) -> None:
        import celpy

        self.celpy = celpy
        self.env = celpy.Environment()
        self.functions = {
            "quantity": lambda s: celpy.json_to_cel({"q": str(s)}),
            "isLessThan": lambda a, b: celpy.celtypes.BoolType(
                _quantity_value(str(a["q"])) < _quantity_value(str(b["q"]))
            ),
        }

    def compile(self, expression: str) -> Any:
        return self.env.program(self.env.compile(expression), functions=self.functions)

    def evaluate(self, program: Any, activation: dict[str, Any]) -> Any:
        converted = {k: self.celpy.json_to_cel(v) for k, v in activation.items()}
        result = program.evaluate(converted)
        if isinstance(result, self.celpy.CELEvalError):
            raise result
        return result


class KubeopsCel(Candidate):
    """kubeops.cel itself, on the chosen library: the wrapper's overhead (run with src on the path)."""

    name = "kubeops.cel (on cel-expr-python)"
    module = "kubeops.cel"

    def __init__(self) -> None:
        import kubeops.cel
        from kubeops.cel import program

        self.kubeops_cel = kubeops.cel
        self.uncached = program._compiled.__wrapped__

    def compile(self, expression: str) -> Any:
        return self.uncached(expression, tuple(sorted(ACTIVATION)))

    def evaluate(self, program: Any, activation: dict[str, Any]) -> Any:
        return program.evaluate(activation)


def _import_ms(module: str) -> float:
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout) * 1e3


def _outcome(candidate: Candidate, expression: str, activation: dict[str, Any]) -> str:
    try:
        program = candidate.compile(expression)
    except Exception as error:
        return "compile error: " + " ".join(str(error).split())[:70]
    try:
        return repr(candidate.evaluate(program, activation))[:40]
    except Exception as error:
        return "eval error: " + " ".join(str(error).split())[:60]


def main() -> None:
    candidates: list[Candidate] = []
    for cls in (CelExprPython, CommonExpressionLanguage, CelPython, KubeopsCel):
        try:
            importlib.import_module(cls.module)
        except ImportError:
            print(f"{cls.name}: not installed, skipped")
            continue
        candidates.append(cls())

    print(f"{'library':28} {'import ms':>9}")
    for c in candidates:
        print(f"{c.name:28} {_import_ms(c.module):9.0f}")

    print(f"\n{'rule':12} " + " ".join(f"{c.name[:26]:>26}" for c in candidates))
    print(f"{'':12} " + " ".join(f"{'compile µs / eval µs':>26}" for _ in candidates))
    for label, expression in RULES.items():
        cells = []
        for c in candidates:
            try:
                program = c.compile(expression)
                assert c.evaluate(program, ACTIVATION) is not None
                compile_us = _median_us(lambda c=c, e=expression: c.compile(e))
                eval_us = _median_us(lambda c=c, p=program: c.evaluate(p, ACTIVATION))
                cells.append(f"{compile_us:10.1f} / {eval_us:9.1f}")
            except Exception as error:
                cells.append(f"{'failed: ' + str(error)[:18]:>26}")
        print(f"{label:12} " + " ".join(f"{cell:>26}" for cell in cells))

    for c in candidates:
        print(f"\n{c.name}")
        for label, expression in CHECKS.items():
            activation = NULL_OLD if label == "null oldObject" else ACTIVATION
            print(f"  {label:15} {_outcome(c, expression, activation)}")


if __name__ == "__main__":
    main()
