"""The inspection's YAML configuration: thresholds, severity overrides, disabled
checks, settings and excludes — validated whole before anything runs, so a typo
is one message naming the file and the key rather than a check silently ignored.

```yaml
checks:
  container-restarts: {thresholds: {restarts: 10}, severity: error}
  namespace-no-networkpolicy: {enabled: false}
settings:
  allowed_registries: [registry.example.com, docker.io/library]
excludes:
  - checks: ["sec-*"]            # globs; default every check
    namespaces: [kube-system]     # globs
    names: ["debug-*"]            # globs on the object's name
    kinds: [Pod]
    labels: "tier=batch"          # a label selector
    reason: platform components
```

An object can also exclude itself: the annotation ``inspect.kubeops.io/skip``
lists check IDs or globs separated by commas (``*`` for every check).
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeops.config.schema import type_name
from kubeops.errors import KubeopsError
from kubeops.inspect.model import Severity
from kubeops.models.selector import Selector

SKIP_ANNOTATION = "inspect.kubeops.io/skip"

DEFAULT_SETTINGS: dict[str, Any] = {
    # Registries images may come from; empty allows every registry.
    "allowed_registries": [],
}


class InspectConfigError(KubeopsError, ValueError):
    """The inspection configuration is malformed."""


@dataclass(frozen=True)
class Exclude:
    """One ``excludes`` rule: which checks it silences for which objects, and why."""

    checks: tuple[str, ...] = ("*",)
    namespaces: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    labels: Selector | None = None
    reason: str = ""

    def matches(self, check: str, obj: Mapping[str, Any]) -> bool:
        """Whether this rule excludes ``obj`` from ``check``."""
        if not any(fnmatch.fnmatchcase(check, p) for p in self.checks):
            return False
        meta = obj.get("metadata") or {}
        if self.namespaces and not any(
            fnmatch.fnmatchcase(meta.get("namespace") or "", p) for p in self.namespaces
        ):
            return False
        if self.names and not any(
            fnmatch.fnmatchcase(meta.get("name") or "", p) for p in self.names
        ):
            return False
        if self.kinds and obj.get("kind") not in self.kinds:
            return False
        return self.labels is None or self.labels.matches(meta.get("labels") or {})


@dataclass(frozen=True)
class CheckConfig:
    """One check's entry under ``checks``: enabled, severity override, thresholds."""

    enabled: bool = True
    severity: Severity | None = None
    thresholds: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InspectConfig:
    """A validated inspection configuration; the default runs every check as declared."""

    checks: Mapping[str, CheckConfig] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    excludes: tuple[Exclude, ...] = ()
    only: tuple[str, ...] = ()

    def enabled(self, check: str) -> bool:
        """Whether ``check`` runs (``only`` narrows the enabled checks to its globs)."""
        if self.only and not any(fnmatch.fnmatchcase(check, p) for p in self.only):
            return False
        return self.checks.get(check, CheckConfig()).enabled

    def excluded(self, check: str, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` is exempt from ``check``: by its skip annotation or an exclude rule."""
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        skip = annotations.get(SKIP_ANNOTATION)
        if skip and any(
            fnmatch.fnmatchcase(check, p.strip()) for p in str(skip).split(",") if p.strip()
        ):
            return True
        return any(rule.matches(check, obj) for rule in self.excludes)

    def thresholds(self, check: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """The check's thresholds: its ``defaults`` with the configured ones over them."""
        return {**defaults, **self.checks.get(check, CheckConfig()).thresholds}

    def severity(self, check: str, default: Severity) -> Severity:
        """The check's severity: the configured override, else ``default``."""
        return self.checks.get(check, CheckConfig()).severity or default


def load_inspect_config(path: str | os.PathLike[str] | None) -> InspectConfig:
    """Read and validate a configuration file (None: the defaults)."""
    if path is None:
        return InspectConfig()
    from kubeops.config import safe_yaml
    from kubeops.config.inputs import CONFIG_FILE_LIMIT, InputError, read_bounded

    try:
        data = read_bounded(path, limit=CONFIG_FILE_LIMIT, what="inspect config")
    except InputError as err:
        raise InspectConfigError(str(err)) from None
    document = safe_yaml.load(data, f"inspect config {path}", error=InspectConfigError)
    return parse_inspect_config(document, str(path))


def parse_only(text: str, flag: str = "--checks") -> tuple[str, ...]:
    """The check IDs or globs of ``--checks a,b*``; each must name at least one check,
    so a typo is an error instead of a run that checks nothing and passes."""
    from kubeops.inspect.catalog import catalog

    patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    if not patterns:
        raise InspectConfigError(f"{flag} {text!r}: give check IDs or globs, e.g. 'sec-*'")
    known = catalog()
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(check, pattern) for check in known):
            raise InspectConfigError(
                f"{flag}: {pattern!r} matches no check{_suggest(pattern, known)} "
                "(`kubeops inspect --list-checks` lists them)"
            )
    return patterns


def parse_inspect_config(document: Any, source: str = "config") -> InspectConfig:
    """Validate a parsed document against the catalogue; every error names its key.

    Values must have the type the key takes -- a list stays a list (``kinds: Pod``
    is refused, not read as ``[Pod]``), a count is a number and not ``true`` -- and
    thresholds are in range (not negative, a percentage at most 100).
    """
    from kubeops.inspect.catalog import catalog

    if document is None:
        return InspectConfig()
    where = f"inspect config {source}"
    _expect(document, dict, where)
    unknown = set(document) - {"checks", "settings", "excludes"}
    if unknown:
        raise InspectConfigError(f"{where}: unknown key(s) {_keys(unknown)}")
    known = catalog()
    checks: dict[str, CheckConfig] = {}
    entries = _optional(document, "checks", dict, where)
    for check_id, entry in entries.items():
        key = f"{where}: checks.{shown_key(check_id)}"
        if check_id not in known:
            raise InspectConfigError(f"{key}: no such check{_suggest(check_id, known)}")
        _expect(entry, dict, key)
        bad = set(entry) - {"enabled", "severity", "thresholds"}
        if bad:
            raise InspectConfigError(f"{key}: unknown key(s) {_keys(bad)}")
        severity = None
        if "severity" in entry:
            _expect(entry["severity"], str, f"{key}.severity")
            try:
                severity = Severity.parse(entry["severity"])
            except ValueError as err:
                raise InspectConfigError(f"{key}.severity: {err}") from None
        thresholds = _optional(entry, "thresholds", dict, key)
        defaults = known[check_id].thresholds
        for name, value in thresholds.items():
            if name not in defaults:
                allowed = ", ".join(defaults) or "none"
                raise InspectConfigError(
                    f"{key}.thresholds.{shown_key(name)}: not a threshold of this check "
                    f"(it has: {allowed})"
                )
            _threshold(value, defaults[name], f"{key}.thresholds.{name}")
        enabled = entry.get("enabled", True)
        _expect(enabled, bool, f"{key}.enabled")
        checks[check_id] = CheckConfig(enabled, severity, dict(thresholds))
    settings = dict(DEFAULT_SETTINGS)
    for name, value in _optional(document, "settings", dict, where).items():
        if name not in DEFAULT_SETTINGS:
            raise InspectConfigError(f"{where}: settings.{shown_key(name)}: unknown setting")
        settings[name] = list(_strings(value, f"{where}: settings.{name}"))
    rules = _optional(document, "excludes", list, where)
    excludes = tuple(_exclude(rule, f"{where}: excludes[{i}]") for i, rule in enumerate(rules))
    return InspectConfig(checks, settings, excludes)


# The range of a threshold by its name; the others only may not be negative.
_RANGES: dict[str, tuple[float, float]] = {"percent": (0, 100)}


def _threshold(value: Any, default: Any, key: str) -> None:
    """Refuse a threshold whose type is not its default's, or a number out of range."""
    if isinstance(default, bool) or not isinstance(default, int | float):
        if isinstance(default, list):
            _strings(value, key)
        else:
            _expect(value, type(default), key)
        return
    number_types = int if isinstance(default, int) else (int, float)
    if isinstance(value, bool) or not isinstance(value, number_types):
        what = "a whole number" if isinstance(default, int) else "a number"
        got = f"{value:g}" if isinstance(value, float) else type_name(value)
        raise InspectConfigError(f"{key}: expected {what}, got {got}")
    low, high = _RANGES.get(key.rpartition(".")[2], (0, math.inf))
    if not low <= value <= high:
        bound = f"from {low:g} to {high:g}" if high != math.inf else f"{low:g} or more"
        raise InspectConfigError(f"{key}: {value} is out of range (give {bound})")


def _exclude(rule: Any, key: str) -> Exclude:
    _expect(rule, dict, key)
    bad = set(rule) - {"checks", "namespaces", "names", "kinds", "labels", "reason"}
    if bad:
        raise InspectConfigError(f"{key}: unknown key(s) {_keys(bad)}")
    lists = {
        name: _strings(rule[name], f"{key}.{name}")
        for name in ("checks", "namespaces", "names", "kinds")
        if rule.get(name) is not None
    }
    labels = None
    if rule.get("labels") is not None:
        _expect(rule["labels"], str, f"{key}.labels")
        try:
            labels = Selector.parse(rule["labels"])
        except ValueError as err:
            raise InspectConfigError(f"{key}.labels: {err}") from None
    reason = rule.get("reason")
    if reason is not None:
        _expect(reason, str, f"{key}.reason")
    if not lists and labels is None:
        raise InspectConfigError(
            f"{key}: excludes nothing (give checks, namespaces, names, kinds or labels)"
        )
    return Exclude(
        checks=lists.get("checks", ("*",)),
        namespaces=lists.get("namespaces", ()),
        names=lists.get("names", ()),
        kinds=lists.get("kinds", ()),
        labels=labels,
        reason=reason or "",
    )


def _optional(parent: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    """``parent[name]`` checked to be a ``kind``; absent or null is an empty one."""
    value = parent.get(name)
    if value is None:
        return kind()
    _expect(value, kind, f"{where}.{name}" if ": " in where else f"{where}: {name}")
    return value


def _strings(value: Any, key: str) -> tuple[str, ...]:
    """A list of strings (a single string is refused: write ``[Pod]``, not ``Pod``)."""
    if isinstance(value, str):
        example = f"[{value}]" if len(value) <= 40 else "[...]"
        raise InspectConfigError(
            f"{key}: expected a list of strings, got a string (write {example})"
        )
    _expect(value, list, key)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InspectConfigError(f"{key}[{index}]: expected a string, got {type_name(item)}")
    return tuple(value)


def _expect(value: Any, kind: type, key: str) -> None:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = {dict: "a mapping", list: "a list", bool: "true or false", str: "a string"}
        raise InspectConfigError(
            f"{key}: expected {names.get(kind, kind.__name__)}, got {type_name(value)}"
        )


def shown_key(name: str) -> str:
    """A key from the file as messages show it: as it is, or quoted when it holds
    spaces or control characters (a line break would split the one-line message)."""
    return name if name.isprintable() and " " not in name and name else repr(name)


def _keys(names: set[str]) -> str:
    return ", ".join(shown_key(n) for n in sorted(names))


def _suggest(name: str, known: Sequence[str] | Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""
