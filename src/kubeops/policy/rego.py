"""conftest's policies, run in-process: the ``.rego`` files users already test their
manifests with, giving the same failures and warnings conftest gives.

As conftest does: every module is compiled together (packages may import one
another); a package's ``deny``, ``violation`` and ``warn`` rules (and
``deny_*``/``violation_*``/``warn_*``) are its checks; their set values are
the messages (a string, or an object with ``msg``); ``exception`` rules
silence a check by name; ``input`` is the manifest itself.  conftest looks in
package ``main`` unless told ``--all-namespaces``; kubeops runs every package
that has checks, one policy each, named after the package.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubeops.policy.model import (
    Action,
    Context,
    Document,
    FailurePolicy,
    PolicyEvaluationError,
    PolicyLoadError,
    Problem,
    Review,
    Source,
    Violation,
)
from kubeops.policy.rego_engine import Module, Program, RegoError, Rule

_OPERATIONS = ["CREATE", "UPDATE"]
ANY_OBJECT: dict[str, Any] = {
    "apiGroups": ["*"],
    "apiVersions": ["*"],
    "resources": ["*"],
    "operations": _OPERATIONS,
    "scope": "*",
}
"""What a conftest policy may look at: any object (its Rego decides by ``input.kind``)."""
_FAILURE = re.compile(r"^(deny|violation)(_[a-zA-Z0-9]+)*$")
_WARNING = re.compile(r"^warn(_[a-zA-Z0-9]+)*$")


def is_check(rule: str) -> bool:
    """Whether conftest treats a rule of this name as a check (failure or warning)."""
    return bool(_FAILURE.match(rule) or _WARNING.match(rule))


def load(modules: Sequence[Document], data: Any = None) -> list[RegoPolicy]:
    """One policy per package with checks; :class:`PolicyLoadError` names every
    module that does not parse or compile (``FILE:LINE: cause``), and then none load.

    ``data`` is conftest's ``--data``: a document the policies read as ``data``.
    """
    named = [Module(f"{index}.rego", str(doc.value)) for index, doc in enumerate(modules)]
    files = {m.name: doc.source.file for m, doc in zip(named, modules, strict=True)}
    problems: list[Problem] = []
    for module in named:  # every file's syntax, so each broken file is named
        try:
            Program([module])
        except RegoError as err:
            problems.append(_problem(err, files))
    if problems:
        raise PolicyLoadError(problems)
    try:
        program = Program(named, data=data)
        checks = [r for r in program.rules if is_check(r.name)]
        program.compile([r for r in program.rules if is_check(r.name) or r.name == "exception"])
        program.check(checks)
    except RegoError as err:
        raise PolicyLoadError([_problem(err, files)]) from None
    packages: dict[str, list[Rule]] = {}
    for rule in program.rules:
        packages.setdefault(rule.package, []).append(rule)
    policies = []
    for package, rules in packages.items():
        names = sorted({r.name for r in rules if is_check(r.name)})
        if names:
            first = min(rules, key=lambda r: (r.file, r.line))
            source = Source(files.get(first.file, first.file), first.line)
            exceptions = any(r.name == "exception" for r in rules)
            policies.append(RegoPolicy(package, source, program, tuple(names), exceptions, files))
    return policies


def _problem(err: RegoError, files: dict[str, str], policy: str = "") -> Problem:
    return Problem(Source(files.get(err.file, err.file or "rego"), err.line), policy, err.cause)


@dataclass(eq=False)
class RegoPolicy:
    """One conftest package: its checks, evaluated on the manifest under review."""

    name: str
    source: Source
    program: Program
    checks: tuple[str, ...]
    has_exceptions: bool
    files: dict[str, str]
    engine: str = "rego"
    failure_policy: FailurePolicy = FailurePolicy.FAIL

    def admission_rules(self) -> list[dict[str, Any]]:
        """Every object, namespaced or not: conftest policies select by ``input.kind``
        in their Rego, which cannot be read ahead."""
        return [dict(ANY_OBJECT)]

    def evaluate(self, review: Review, context: Context) -> list[Violation]:
        """conftest's failures (Deny) and warnings (Warn) for the manifest."""
        manifest = review.subject
        excepted = self._exceptions(manifest)
        found: list[Violation] = []
        for rule in self.checks:
            if _FAILURE.match(rule) and _unprefixed(rule) in excepted:
                continue
            warning = bool(_WARNING.match(rule))
            for message in self._messages(manifest, rule):
                found.append(
                    Violation(
                        policy=self.name,
                        message=message,
                        actions=frozenset({Action.WARN if warning else Action.DENY}),
                        severity="warning" if warning else "error",
                        reason=rule,
                    )
                )
        return found

    def _value(self, manifest: object, rule: str) -> Any:
        try:
            return self.program.evaluate(manifest, f"data.{self.name}.{rule}")
        except RegoError as err:
            where = f" at {self.files.get(err.file, err.file)}:{err.line}" if err.line else ""
            raise PolicyEvaluationError(self.name, f"{rule}{where}: {err.cause}") from None

    def _messages(self, manifest: object, rule: str) -> list[str]:
        value = self._value(manifest, rule)
        if not isinstance(value, list):  # conftest: anything but a set is a pass
            return []
        messages = []
        for item in value:
            if isinstance(item, str):
                messages.append(item)
            elif isinstance(item, dict):
                msg = item.get("msg")
                if not isinstance(msg, str):
                    raise PolicyEvaluationError(
                        self.name, f"{rule}: a result object needs a string msg, got {item!r}"
                    )
                messages.append(msg)
        return messages

    def _exceptions(self, manifest: object) -> set[str]:
        """The check names (without ``deny_``/``violation_``) that ``exception`` lists."""
        if not self.has_exceptions:
            return set()
        value = self._value(manifest, "exception")
        names: set[str] = set()
        for item in value if isinstance(value, list) else []:
            if isinstance(item, list):
                names.update(x for x in item if isinstance(x, str))
        return names


def _unprefixed(rule: str) -> str:
    for prefix in ("deny_", "violation_"):
        if rule.startswith(prefix):
            return rule.removeprefix(prefix)
    return rule
