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
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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


def parse_inspect_config(document: Any, source: str = "config") -> InspectConfig:
    """Validate a parsed document against the catalogue; every error names its key."""
    from kubeops.inspect.catalog import catalog

    if document is None:
        return InspectConfig()
    where = f"inspect config {source}"
    _expect(document, dict, where)
    unknown = set(document) - {"checks", "settings", "excludes"}
    if unknown:
        raise InspectConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    known = catalog()
    checks: dict[str, CheckConfig] = {}
    for check_id, entry in (document.get("checks") or {}).items():
        key = f"{where}: checks.{check_id}"
        if check_id not in known:
            raise InspectConfigError(f"{key}: no such check{_suggest(check_id, known)}")
        _expect(entry, dict, key)
        bad = set(entry) - {"enabled", "severity", "thresholds"}
        if bad:
            raise InspectConfigError(f"{key}: unknown key(s) {', '.join(sorted(bad))}")
        severity = None
        if "severity" in entry:
            try:
                severity = Severity.parse(str(entry["severity"]))
            except ValueError as err:
                raise InspectConfigError(f"{key}.severity: {err}") from None
        thresholds = entry.get("thresholds") or {}
        _expect(thresholds, dict, f"{key}.thresholds")
        defaults = known[check_id].thresholds
        for name, value in thresholds.items():
            if name not in defaults:
                allowed = ", ".join(defaults) or "none"
                raise InspectConfigError(
                    f"{key}.thresholds.{name}: not a threshold of this check (it has: {allowed})"
                )
            if not isinstance(value, type(defaults[name])) and not (
                isinstance(defaults[name], float) and isinstance(value, int)
            ):
                raise InspectConfigError(
                    f"{key}.thresholds.{name}: expected {type(defaults[name]).__name__}, got {value!r}"
                )
        enabled = entry.get("enabled", True)
        _expect(enabled, bool, f"{key}.enabled")
        checks[check_id] = CheckConfig(enabled, severity, dict(thresholds))
    settings = dict(DEFAULT_SETTINGS)
    given = document.get("settings") or {}
    _expect(given, dict, f"{where}: settings")
    for name, value in given.items():
        if name not in DEFAULT_SETTINGS:
            raise InspectConfigError(f"{where}: settings.{name}: unknown setting")
        _expect(value, list, f"{where}: settings.{name}")
        settings[name] = [str(v) for v in value]
    excludes = tuple(
        _exclude(rule, f"{where}: excludes[{i}]")
        for i, rule in enumerate(document.get("excludes") or [])
    )
    return InspectConfig(checks, settings, excludes)


def _exclude(rule: Any, key: str) -> Exclude:
    _expect(rule, dict, key)
    bad = set(rule) - {"checks", "namespaces", "names", "kinds", "labels", "reason"}
    if bad:
        raise InspectConfigError(f"{key}: unknown key(s) {', '.join(sorted(bad))}")
    lists = {}
    for name in ("checks", "namespaces", "names", "kinds"):
        value = rule.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            value = [value]
        _expect(value, list, f"{key}.{name}")
        lists[name] = tuple(str(v) for v in value)
    labels = None
    if rule.get("labels") is not None:
        try:
            labels = Selector.parse(str(rule["labels"]))
        except ValueError as err:
            raise InspectConfigError(f"{key}.labels: {err}") from None
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
        reason=str(rule.get("reason", "")),
    )


def _expect(value: Any, kind: type, key: str) -> None:
    if not isinstance(value, kind):
        names = {dict: "a mapping", list: "a list", bool: "true or false"}
        raise InspectConfigError(f"{key}: expected {names.get(kind, kind.__name__)}, got {value!r}")


def _suggest(name: str, known: Sequence[str] | Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""
