"""One compiled set of Rego modules, evaluated in-process (regorus, Microsoft's Rust
Rego interpreter; see docs/decisions.md for why it and not rego-cpp or OPA-in-wasm).

Entry points are compiled for regorus' virtual machine when it can take them: it
treats a built-in's error as OPA does (the expression is undefined, the rule goes
on) and runs 2-3 times faster.  Rego v0 (Gatekeeper's default) and modules calling
what only the interpreter has (the deprecated ``any``/``all``/``re_match``) stay on
the interpreter, where a built-in's error fails the evaluation.

conftest and Gatekeeper both come down to "these modules, this input, the value of
that rule"; this module is the only one that talks to the interpreter, so swapping
it is a one-file change.  Rule values cross as JSON (sets become sorted arrays, as
``opa eval`` prints them).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import re2  # type: ignore[import-untyped]
import regorus  # type: ignore[import-untyped]

_WHERE = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")
# Errors that mean the module is wrong whatever the input (regorus reports them on the
# first evaluation rather than when the module is added).
_STATIC = (
    "is unsafe",
    "could not find function",
    "expects",
    "unknown",
    "invalid",
    "not a valid",
    "recursion",
    "cannot be used",
    "conflicts with rule",
)
_UNDEFINED = "<undefined>"  # what the VM answers for an undefined rule
# Queries longer than regorus' default limits (one line of 1,024 columns) are legal Rego.
_LIMITS = {"max_col": 100_000, "max_file_bytes": 8 * 1024 * 1024, "max_lines": 200_000}


# OPA built-ins regorus lacks that real policies call: ``any``/``all``/``re_match``
# (deprecated, yet in many Gatekeeper library templates; RE2 as OPA's Go regexp) and
# ``crypto.sha256``.
EXTENSIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "any": (1, lambda values: any(v is True for v in _members(values))),
    "all": (1, lambda values: all(v is True for v in _members(values))),
    "re_match": (2, lambda pattern, text: re2.search(str(pattern), str(text)) is not None),
    "crypto.sha256": (1, lambda text: hashlib.sha256(str(text).encode()).hexdigest()),
}


def _members(values: Any) -> Iterable[Any]:
    return values.values() if isinstance(values, dict) else values


class RegoError(Exception):
    """The interpreter refused a module or failed on an input: where and why."""

    def __init__(self, file: str, line: int, cause: str) -> None:
        self.file = file
        self.line = line
        self.cause = cause
        super().__init__(f"{file}:{line}: {cause}" if line else cause)

    @property
    def static(self) -> bool:
        """Whether the module itself is wrong (not this input)."""
        return any(marker in self.cause for marker in _STATIC)


def error_of(err: Exception, default_file: str = "") -> RegoError:
    """The file, line and one-line cause of an interpreter error (its text carries
    a ``--> FILE:LINE:COL`` pointer, a source excerpt and an ``error:`` line)."""
    text = str(err).split("Stack backtrace", 1)[0]
    where = _WHERE.search(text)
    causes = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("error:")]
    cause = causes[-1].removeprefix("error:").strip() if causes else text.strip()
    cause = cause.splitlines()[-1].strip() if cause else "rego error"
    if where:
        return RegoError(where["file"], int(where["line"]), cause)
    return RegoError(default_file, 0, cause)


@dataclass(frozen=True)
class Rule:
    """A rule of a package: its name and the line of its first definition."""

    package: str
    name: str
    file: str
    line: int


@dataclass(frozen=True)
class Module:
    """One module's text and the name errors call it by (``FILE`` or ``FILE:LINE`` base)."""

    name: str
    text: str


class _Runtime:
    """One thread's interpreter and VM: regorus' objects may not cross threads (they
    panic when used from another), so each thread that evaluates builds its own from
    the same modules."""

    def __init__(
        self, modules: Sequence[Module], v0: bool, base: Any, entries: Sequence[str]
    ) -> None:
        self.engine = regorus.Engine()
        self.engine.set_policy_length_config(**_LIMITS)
        if v0:
            self.engine.set_rego_v0(True)
        for path, (arity, function) in EXTENSIONS.items():
            self.engine.add_extension(path, arity, function)
        for module in modules:
            try:
                self.engine.add_policy(module.name, module.text)
            except Exception as err:  # regorus raises bare RuntimeError/ValueError
                raise error_of(err, module.name) from None
        if base is not None:
            self.engine.add_data_json(orjson.dumps(base).decode())
        self.vm: Any = _machine(modules, base, entries) if entries else None
        self.input: object = None
        self.vm_input: object = None
        self.data = b""


def _machine(modules: Sequence[Module], base: Any, entries: Sequence[str]) -> Any:
    """A VM loaded with ``entries`` compiled from ``modules``."""
    data = orjson.dumps(base if base is not None else {}).decode()
    compiled = regorus.Program.compile_from_modules(
        data, [(m.name, m.text) for m in modules], list(entries)
    )
    machine = regorus.Rvm()
    machine.load_program(compiled)
    return machine


class Program:
    """Modules compiled together (they may import one another), evaluated one input at
    a time.  Each thread gets its own interpreter (built on its first evaluation), so a
    set loaded once serves the webhook's worker threads; the last input is kept, so
    every package of a set reviews one object for one conversion."""

    def __init__(self, modules: Sequence[Module], *, v0: bool = False, data: Any = None) -> None:
        self._modules = tuple(modules)
        self._v0 = v0
        self._base = data
        self._entries: frozenset[str] = frozenset()
        self._local = threading.local()
        self.interpreted = ""
        """Why the entry points run on the interpreter ("" when on the VM)."""
        self._local.runtime = _Runtime(self._modules, v0, data, ())
        self.rules: list[Rule] = []
        self._attach_rules()

    def _runtime(self) -> _Runtime:
        runtime: _Runtime | None = getattr(self._local, "runtime", None)
        if runtime is None:
            runtime = _Runtime(self._modules, self._v0, self._base, sorted(self._entries))
            self._local.runtime = runtime
        return runtime

    def _attach_rules(self) -> None:
        """Rule names and lines from the parsed modules (regorus' AST as JSON)."""
        found: list[Rule] = []
        for entry in json.loads(self._runtime().engine.get_ast_as_json()):
            file = str(entry.get("source", {}).get("file", ""))
            ast = entry.get("ast") or {}
            package = ".".join(_ref_parts(ast.get("package", {}).get("refr")))
            for rule in ast.get("rules") or []:
                name, line = _rule_head(rule)
                if name:
                    found.append(Rule(package, name, file, line))
        self.rules = found

    def compile(self, rules: Sequence[Rule]) -> None:
        """Compile ``rules`` as the VM's entry points; when the VM cannot (Rego v0, a
        function it lacks), they stay on the interpreter and :attr:`interpreted` says why."""
        paths = sorted({f"data.{r.package}.{r.name}" for r in rules})
        if self._v0 or not paths:
            self.interpreted = "Rego v0" if self._v0 else "no entry points"
            return
        try:
            machine = _machine(self._modules, self._base, paths)
        except Exception as err:  # the interpreter reports what is really wrong
            self.interpreted = error_of(err).cause
            return
        self._runtime().vm = machine
        self._entries, self.interpreted = frozenset(paths), ""

    def check(self, rules: Sequence[Rule]) -> None:
        """Evaluate ``rules`` once on an empty input so that a module the interpreter
        cannot compile (unsafe variables, unknown functions, wrong arity) fails now,
        at load, and not on the first object."""
        for rule in rules:
            try:
                self.evaluate({}, f"data.{rule.package}.{rule.name}")
            except RegoError as err:
                if err.static:
                    raise
        self._runtime().input = None

    def evaluate(self, value: object, rule: str, data: object = None) -> Any:
        """The value of ``rule`` (``data.pkg.name``) for input ``value`` (and base
        document ``data``, when given); None when undefined.  Raises
        :class:`RegoError` when evaluation fails."""
        runtime = self._runtime()
        try:
            if data is not None:
                _set_data(runtime, data)
            if rule in self._entries:
                if value is not runtime.vm_input:
                    runtime.vm.set_input_json(orjson.dumps(value).decode())
                    runtime.vm_input = value
                out = runtime.vm.execute_entry_point(rule)
            else:
                if value is not runtime.input:
                    runtime.engine.set_input_json(orjson.dumps(value).decode())
                    runtime.input = value
                out = runtime.engine.eval_rule_as_json(rule)
        except Exception as err:
            runtime.input = runtime.vm_input = None
            raise error_of(err) from None
        found = json.loads(out) if out else None
        return None if found == _UNDEFINED else found


def _set_data(runtime: _Runtime, data: object) -> None:
    """Replace the base document (a no-op when it is what the interpreter holds)."""
    text = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    if text != runtime.data:
        runtime.engine.clear_data()
        runtime.engine.add_data_json(text.decode())
        if runtime.vm is not None:
            runtime.vm.set_data_json(text.decode())
        runtime.data = text


def _ref_parts(ref: Any) -> list[str]:
    """``a.b.c`` of a reference node in regorus' AST JSON."""
    if not isinstance(ref, dict):
        return []
    if "Var" in ref:
        return [str(ref["Var"].get("value"))]
    if "RefDot" in ref:
        node = ref["RefDot"]
        field = node.get("field")
        name = field[1] if isinstance(field, list) and len(field) > 1 else ""
        return [*_ref_parts(node.get("refr")), str(name)]
    if "RefBrack" in ref:
        node = ref["RefBrack"]
        index = node.get("index") or {}
        literal = index.get("String") if isinstance(index, dict) else None
        value = literal.get("value") if isinstance(literal, dict) else None
        return [*_ref_parts(node.get("refr")), str(value)] if value else _ref_parts(node["refr"])
    return []


def _rule_head(rule: Any) -> tuple[str, int]:
    """The name and line of a rule node (``Spec`` rules; default rules and functions
    are never conftest/Gatekeeper entry points but are named the same way)."""
    if not isinstance(rule, dict):
        return "", 0
    for kind in ("Spec", "Default"):
        node = rule.get(kind)
        if not isinstance(node, dict):
            continue
        line = int((node.get("span") or {}).get("line", 0))
        head = node.get("head") if kind == "Spec" else node
        if isinstance(head, dict):
            for shape in ("Set", "Compr", "Func"):
                inner = head.get(shape)
                if isinstance(inner, dict):
                    parts = _ref_parts(inner.get("refr"))
                    return (parts[0] if parts else ""), line
            parts = _ref_parts(head.get("refr"))
            return (parts[0] if parts else ""), line
    return "", 0
