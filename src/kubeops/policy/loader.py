"""Loading a policy directory: every file read, every document sorted to its engine,
and the whole set refused when any policy has a problem.

A directory may mix what users already have: ``.rego`` files (conftest),
ValidatingAdmissionPolicy and its bindings, Gatekeeper ConstraintTemplates and
their constraints, kubeops' ``PolicyLibrary`` settings for the built-in
library, and any other object -- a VAP's params, a namespace's quota -- which
the policies can look up.  Engines are imported only when a file needs them.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeops.config import safe_yaml
from kubeops.config.inputs import MANIFEST_LIMIT, InputError, files_under, read_bounded
from kubeops.policy.model import (
    API_VERSION,
    Document,
    Object,
    Policy,
    PolicyLoadError,
    Problem,
    Source,
)

if TYPE_CHECKING:
    from kubeops.policy.scan import ScanReport

_YAML = (".yaml", ".yml", ".json")
_VAP_GROUP = "admissionregistration.k8s.io/"
_TEMPLATES = "templates.gatekeeper.sh/"
_CONSTRAINTS = "constraints.gatekeeper.sh/"
LIBRARY_KIND = "PolicyLibrary"


@dataclass
class Sorted:
    """A policy directory's documents, by engine."""

    rego: list[Document] = field(default_factory=list)
    vaps: list[Document] = field(default_factory=list)
    bindings: list[Document] = field(default_factory=list)
    templates: list[Document] = field(default_factory=list)
    constraints: list[Document] = field(default_factory=list)
    library: list[Document] = field(default_factory=list)
    objects: list[Document] = field(default_factory=list)


def read_documents(paths: Iterable[str | Path]) -> Sorted:
    """Every document under ``paths`` (files or directories, searched recursively),
    sorted by engine; YAML is loaded with its lines (``safe_yaml`` marks)."""
    found = Sorted()
    problems: list[Problem] = []
    for path in paths:
        for file in _files(Path(path), problems):
            try:
                data = read_bounded(file, limit=MANIFEST_LIMIT, what="policy file")
            except InputError as err:
                problems.append(Problem(Source(str(file)), "", str(err)))
                continue
            if file.suffix == ".rego":
                text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
                found.rego.append(Document(text, Source(str(file), 1)))
                continue
            try:
                documents = safe_yaml.load_all(data, str(file), error=_Unreadable, lines=True)
            except _Unreadable as err:
                problems.append(_yaml_problem(str(file), str(err)))
                continue
            for loaded in documents:
                if loaded.value is not None:
                    _sort(Document(loaded.value, Source(str(file), loaded.line)), found, problems)
    if problems:
        raise PolicyLoadError(problems)
    return found


class _Unreadable(Exception):
    pass


_YAML_PLACE = re.compile(r"^, line (\d+)(?:, column \d+)?: ")


def _yaml_problem(file: str, message: str) -> Problem:
    """safe_yaml's ``FILE, line L, column C: cause`` as a Problem at ``FILE:L``."""
    rest = message.removeprefix(file)
    place = _YAML_PLACE.match(rest)
    if place:
        return Problem(Source(file, int(place.group(1))), "", rest[place.end() :])
    return Problem(Source(file), "", rest.removeprefix(": "))


def _files(path: Path, problems: list[Problem]) -> list[Path]:
    if path.is_dir():
        return files_under(path, (*_YAML, ".rego"))
    if path.is_file():
        return [path]
    problems.append(Problem(Source(str(path)), "", "no such file or directory"))
    return []


def _sort(doc: Document, into: Sorted, problems: list[Problem]) -> None:
    value = doc.value
    if not isinstance(value, dict) or not value.get("kind") or not value.get("apiVersion"):
        problems.append(
            Problem(doc.source, "", "expected a Kubernetes object with apiVersion and kind")
        )
        return
    api_version, kind = str(value["apiVersion"]), str(value["kind"])
    if kind.endswith("List") and isinstance(value.get("items"), list):
        for item in value["items"]:
            _sort(Document(item, doc.source), into, problems)
    elif api_version.startswith(_VAP_GROUP) and kind == "ValidatingAdmissionPolicy":
        into.vaps.append(doc)
    elif api_version.startswith(_VAP_GROUP) and kind == "ValidatingAdmissionPolicyBinding":
        into.bindings.append(doc)
    elif api_version.startswith(_TEMPLATES) and kind == "ConstraintTemplate":
        into.templates.append(doc)
    elif api_version.startswith(_CONSTRAINTS):
        into.constraints.append(doc)
    elif api_version == API_VERSION and kind == LIBRARY_KIND:
        into.library.append(doc)
    else:
        into.objects.append(doc)


def load_policies(
    paths: Iterable[str | Path],
    *,
    scans: Sequence[ScanReport] = (),
    builtins_by_default: bool = True,
) -> PolicySet:
    """The policies under ``paths``, every one checked; :class:`PolicyLoadError` lists
    each problem (``FILE:LINE: policy NAME: cause``) and nothing is loaded.

    With no ``PolicyLibrary`` document and ``builtins_by_default``, the built-in
    library runs with its defaults; ``scans`` feed its vulnerability gate.
    """
    return build_set(read_documents(paths), scans=scans, builtins_by_default=builtins_by_default)


def build_set(
    found: Sorted, *, scans: Sequence[ScanReport] = (), builtins_by_default: bool = True
) -> PolicySet:
    """The policy set of documents already read and sorted (see :func:`read_documents`)."""
    policies: list[Policy] = []
    problems: list[Problem] = []

    def collect(load: Any, *args: Any) -> None:
        try:
            policies.extend(load(*args))
        except PolicyLoadError as err:
            problems.extend(err.problems)

    if found.vaps or found.bindings:
        collect(_engine("vap").load, found.vaps, found.bindings)
    if found.templates or found.constraints:
        collect(_engine("gatekeeper").load, found.templates, found.constraints)
    if found.rego:
        collect(_engine("rego").load, found.rego)
    if found.library or builtins_by_default or scans:
        collect(_engine("library").load, found.library, scans)
    names: dict[tuple[str, str, str], Source] = {}
    for policy in policies:
        # A VAP is one policy per binding: (engine, name, binding) is what must be unique.
        key = (policy.engine, policy.name, str(getattr(policy, "binding", "")))
        if key in names:
            problems.append(
                Problem(policy.source, policy.name, f"defined twice (first at {names[key]})")
            )
        names[key] = policy.source
    if problems:
        raise PolicyLoadError(problems)
    return PolicySet(tuple(policies), tuple(d.value for d in found.objects))


def _engine(name: str) -> Any:
    """An engine module, imported when a file needs it (Rego and CEL runtimes are heavy)."""
    return importlib.import_module(f"kubeops.policy.{name}")


@dataclass(frozen=True)
class PolicySet:
    """Loaded policies and the other objects of their directory (params, quotas)."""

    policies: tuple[Policy, ...]
    objects: tuple[Object, ...] = ()

    def __len__(self) -> int:
        return len(self.policies)

    def engines(self) -> dict[str, int]:
        """How many policies each engine runs, for progress lines and reports."""
        counts: dict[str, int] = {}
        for policy in self.policies:
            counts[policy.engine] = counts.get(policy.engine, 0) + 1
        return counts
