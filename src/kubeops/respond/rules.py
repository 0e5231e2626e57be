"""Rule files: YAML (and Python modules of decorated rules) into one validated :class:`RuleSet`.

Everything is checked before anything starts -- unknown keys (with the nearest
known one), wrong types, durations, label selectors, CEL, unknown sources and
actions, each source's and action's own settings -- and *every* problem is
reported at once, each as ``file:line: rule NAME: field: cause``, so a CI run of
``kubeops respond check`` lists all there is to fix.  Line numbers come from
:mod:`kubeops.config.safe_yaml`'s line-keeping mode.

A file holds ``rules:`` (a list) and optionally ``limits:`` (the global limits)
and ``bus:`` (Kafka: :mod:`kubeops.bus.config`), each once over all files.  A directory contributes its ``*.yaml``/``*.yml`` files,
sorted; a ``.py`` file is imported and its decorated rules taken
(:mod:`kubeops.respond.registry`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeops.config.safe_yaml import Locator, field_lines
from kubeops.errors import KubeopsError
from kubeops.respond.event import SOURCES
from kubeops.respond.model import ActionSpec, GlobalLimits, Rule, Safety, Trigger, Window

if TYPE_CHECKING:
    from kubeops.bus.config import BusConfig
    from kubeops.respond.action import Action

MAX_RULE_FILE = 4 * 1024 * 1024
"""Largest rule file read (bytes)."""
NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?")

NAME_RULE = (
    "must be 1-253 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
)
RULE_KEYS = ("name", "description", "trigger", "conditions", "actions", "safety")
TRIGGER_KEYS = (
    "source",
    "names",
    "kind",
    "apiVersion",
    "namespaces",
    "selector",
    "condition",
    "params",
)
SAFETY_KEYS = (
    "dryRun",
    "cooldown",
    "maxActions",
    "dedup",
    "maxScalePercent",
    "maxDrainedNodes",
)
LIMITS_KEYS = ("maxActions", "dryRun", "namespace", "killSwitch")
FILE_KEYS = ("rules", "limits", "bus")
WINDOW_KEYS = ("count", "per")


class RuleError(KubeopsError, ValueError):
    """Rules that cannot run; ``problems`` holds every one, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class RuleSet:
    """Validated rules, their built actions and the global limits."""

    rules: tuple[Rule, ...] = ()
    limits: GlobalLimits = field(default_factory=GlobalLimits)
    actions: Mapping[str, tuple[Action, ...]] = field(default_factory=dict)
    """Each rule's actions, built from its specs (by rule name)."""
    bus: BusConfig | None = None
    """The Kafka settings (the top-level ``bus:`` key); None: no bus."""

    def rule(self, name: str) -> Rule:
        """The rule called ``name`` (KeyError when there is none)."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def sources(self) -> set[str]:
        """The sources some rule needs (``""`` for rules that take any source's events)."""
        return {rule.trigger.source for rule in self.rules}

    def triggers(self, source: str) -> list[Trigger]:
        """The triggers of every rule on ``source`` (what that source must watch)."""
        return [rule.trigger for rule in self.rules if rule.trigger.source == source]


Placed = tuple[Rule, Callable[[str], str]]
"""A rule and what turns one of its field paths into ``file:line``."""


# --- locating problems -------------------------------------------------------------------------


_Where = Locator
"""Turns a field path of one rule (``trigger.params.for``) into ``file:line``."""


def _index_lines(value: Any, prefix: str, into: dict[str, int]) -> None:
    """Record the line of every key and item below ``value`` under its field path."""
    into.update(field_lines(value, prefix))


class _Problems:
    """The problems found so far, each already in its final form."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, subject: str, path: str, cause: str) -> None:
        head = f"{where}: {subject}: " if subject else f"{where}: "
        self.lines.append(f"{head}{path}: {cause}" if path else f"{head}{cause}")


def did_you_mean(word: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` when ``word`` is close to a known word, else ``""``."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=cutoff)
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_keys(
    mapping: Mapping[str, Any],
    known: Sequence[str],
    prefix: str,
    report: Callable[[str, str], None],
) -> None:
    for key in mapping:
        if key not in known:
            path = f"{prefix}.{key}" if prefix else str(key)
            report(
                path,
                f"unknown key{did_you_mean(str(key), known)}; known: {', '.join(known)}",
            )


# --- reading files ---------------------------------------------------------------------------


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files ``paths`` name: files as given, directories' ``*.yaml``/``*.yml`` sorted."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found += sorted(
                p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
            )
        else:
            found.append(path)
    return found


def load_rules(paths: Iterable[str | Path]) -> RuleSet:
    """Every rule in ``paths`` (files or directories), validated whole.

    Raises :class:`RuleError` listing every problem found, in file order.
    """
    problems = _Problems()
    rules: list[Placed] = []
    limits: tuple[GlobalLimits, str] | None = None
    bus: tuple[BusConfig | None, str] | None = None
    paths = list(paths)
    if not paths:
        raise RuleError(["no rule files given"])
    for given in paths:
        if Path(given).is_dir() and not rule_files([given]):
            problems.add(str(given), "", "", "no rule files (*.yaml, *.yml) in this directory")
    files = rule_files(paths)
    for path in files:
        if path.suffix == ".py":
            got = _load_module(path, problems)
            if got is not None:
                rules += rule_places(got.rules, str(path))
                if got.limits != GlobalLimits():
                    limits = _merge_limits(limits, got.limits, str(path), problems)
            continue
        for found_rules, found_limits, found_bus in _load_yaml(path, problems):
            rules += found_rules
            if found_limits is not None:
                limits = _merge_limits(limits, found_limits[0], found_limits[1], problems)
            if found_bus is not None:
                if bus is not None:
                    problems.add(
                        found_bus[1], "bus", "", f"set again (first set at {bus[1]}); set it once"
                    )
                else:
                    bus = found_bus
    return build_ruleset(
        rules, limits[0] if limits else GlobalLimits(), problems, bus=bus[0] if bus else None
    )


def _merge_limits(
    held: tuple[GlobalLimits, str] | None,
    new: GlobalLimits,
    where: str,
    problems: _Problems,
) -> tuple[GlobalLimits, str]:
    if held is not None:
        problems.add(where, "limits", "", f"set again (first set at {held[1]}); set them once")
        return held
    return (new, where)


def _read(path: Path, problems: _Problems) -> bytes | None:
    from kubeops.config.inputs import InputError, read_bounded

    try:
        return read_bounded(path, limit=MAX_RULE_FILE, what="rule file")
    except InputError as err:
        problems.add(str(path), "", "", f"cannot read: {err}")
        return None


_YAML_AT = re.compile(r"^.*?, line (\d+)(?:, column \d+)?: ")


_Document = tuple[
    list[Placed], tuple[GlobalLimits, str] | None, tuple["BusConfig | None", str] | None
]
"""One YAML document's rules, and its limits and bus settings with where they are set."""


def _load_yaml(path: Path, problems: _Problems) -> list[_Document]:
    from kubeops.config.safe_yaml import MarkedDict, YAMLInputError, load_all

    data = _read(path, problems)
    if data is None:
        return []
    file = str(path)
    try:
        documents = load_all(data, file, lines=True)
    except YAMLInputError as err:
        text = str(err)
        at = _YAML_AT.match(text)
        if at:
            problems.add(f"{file}:{at.group(1)}", "", "", text[at.end() :])
        else:
            problems.add(file, "", "", text.removeprefix(f"{file}: "))
        return []
    found = []
    for document in documents:
        value = document.value
        if value is None:
            continue
        if not isinstance(value, MarkedDict):
            problems.add(
                f"{file}:{document.line}",
                "",
                "",
                "expected a mapping with `rules:` (and optionally `limits:`, `bus:`)",
            )
            continue
        found.append(_yaml_document(value, file, problems))
    return found


def _yaml_document(value: Any, file: str, problems: _Problems) -> _Document:
    """The rules, limits and bus settings of one YAML document (a MarkedDict)."""
    from kubeops.config.safe_yaml import MarkedList

    def at_key(path: str, cause: str) -> None:
        problems.add(f"{file}:{value.line_of(path)}", "", path, cause)

    _unknown_keys(value, FILE_KEYS, "", at_key)
    rules: list[Placed] = []
    items = value.get("rules")
    if items is not None and not isinstance(items, MarkedList):
        at_key("rules", "must be a list of rules")
    elif items is not None:
        for index, item in enumerate(items):
            got = _yaml_rule(item, file, items.line_of(index), index, problems)
            if got is not None:
                rules.append(got)
    bus = _yaml_bus(value, file, problems) if "bus" in value else None
    if "limits" not in value:
        return rules, None, bus
    lines: dict[str, int] = {}
    _index_lines(value["limits"], "", lines)
    where = _Where(file, value.line_of("limits"), lines)

    def at_limits(path: str, cause: str) -> None:
        problems.add(where(path), "limits", path, cause)

    return rules, (_global_limits(value["limits"], at_limits), where("")), bus


def _yaml_bus(value: Any, file: str, problems: _Problems) -> tuple[BusConfig | None, str]:
    """The ``bus:`` settings of one document, their problems reported as ``bus: field``."""
    from kubeops.bus.config import parse_bus

    lines: dict[str, int] = {}
    _index_lines(value["bus"], "", lines)
    where = _Where(file, value.line_of("bus"), lines)

    def at_bus(path: str, cause: str) -> None:
        problems.add(where(path), "bus", path, cause)

    return parse_bus(value["bus"], at_bus), where("")


def _where_of_origin(origin: str, fallback: str) -> _Where:
    """Where a Python rule was declared: ``file:line`` when its origin says so."""
    file, _, line = origin.rpartition(":")
    if file and line.isdigit():
        return _Where(file, int(line))
    return _WhereText(origin or fallback)


class _WhereText(_Where):
    """A place that is not a file line (a module's ``module:function``)."""

    def __init__(self, text: str) -> None:
        super().__init__(text, 0)

    def __call__(self, path: str) -> str:
        return self.file


def _load_module(path: Path, problems: _Problems) -> Any:
    from kubeops.respond.registry import RegistryError, load_module

    try:
        return load_module(path)
    except RegistryError as err:
        problems.lines.append(str(err))
        return None


def rule_places(rules: Iterable[Rule], fallback: str) -> list[Placed]:
    """Each rule built in code with where its problems are reported (its origin)."""
    return [(rule, _where_of_origin(rule.origin, fallback)) for rule in rules]


# --- one rule from YAML ------------------------------------------------------------------------


def _yaml_rule(item: Any, file: str, line: int, index: int, problems: _Problems) -> Placed | None:
    """The rule ``item`` declares (None when its shape is too wrong to go on), with
    its problems reported; fields are checked further by :func:`build_ruleset`."""
    if not isinstance(item, Mapping):
        problems.add(
            f"{file}:{line}",
            f"rule #{index + 1}",
            "",
            "must be a mapping with name, trigger and actions",
        )
        return None
    lines: dict[str, int] = {}
    _index_lines(item, "", lines)
    where = _Where(file, line, lines)
    name = item.get("name")
    label = f"rule {name}" if isinstance(name, str) and name else f"rule #{index + 1}"

    def report(path: str, cause: str) -> None:
        problems.add(where(path), label, path, cause)

    _unknown_keys(item, RULE_KEYS, "", report)
    if name is None:
        report("name", "required")
        name = f"#{index + 1}"
    elif not isinstance(name, str):
        report("name", f"must be a string, not {_type(name)}")
        name = f"#{index + 1}"
    description = _string(item.get("description", ""), "description", report)
    trigger = _trigger(item.get("trigger"), report)  # None: reported
    conditions = _strings(item.get("conditions"), "conditions", report)
    actions = _action_specs(item.get("actions"), where, report)
    safety = _safety(item.get("safety"), report)
    rule = Rule(
        name=name,
        trigger=trigger or Trigger(source=""),
        actions=actions,
        conditions=conditions,
        safety=safety,
        description=description,
        origin=f"{file}:{line}",
    )
    return rule, where


Report = Callable[[str, str], None]


def _string(value: Any, path: str, report: Report) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        report(path, f"must be a string, not {_type(value)}")
        return ""
    return value


def _strings(value: Any, path: str, report: Report) -> tuple[str, ...]:
    """A string or a list of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        report(path, f"must be a string or a list of strings, not {_type(value)}")
        return ()
    out = []
    for index, each in enumerate(value):
        if isinstance(each, str):
            out.append(each)
        else:
            report(f"{path}[{index}]", f"must be a string, not {_type(each)}")
    return tuple(out)


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _trigger(value: Any, report: Report) -> Trigger | None:
    if value is None:
        report("trigger", "required (a mapping with at least `source`)")
        return None
    if not isinstance(value, Mapping):
        report("trigger", f"must be a mapping, not {_type(value)}")
        return None
    _unknown_keys(value, TRIGGER_KEYS, "trigger", report)
    source = value.get("source")
    if source is None:
        report("trigger.source", f"required: one of {', '.join(SOURCES)}")
        source = ""
    elif not isinstance(source, str):
        report("trigger.source", f"must be a string, not {_type(source)}")
        source = ""
    selector = value.get("selector", "")
    if isinstance(selector, Mapping) and all(isinstance(v, str) for v in selector.values()):
        selector = ",".join(f"{k}={v}" for k, v in selector.items())
    params = value.get("params") or {}
    if not isinstance(params, Mapping):
        report("trigger.params", f"must be a mapping, not {_type(params)}")
        params = {}
    return Trigger(
        source=source,
        names=_strings(value.get("names"), "trigger.names", report),
        kind=_string(value.get("kind"), "trigger.kind", report),
        api_version=_string(value.get("apiVersion"), "trigger.apiVersion", report),
        namespaces=_strings(value.get("namespaces"), "trigger.namespaces", report),
        selector=_string(selector, "trigger.selector", report),
        condition=_string(value.get("condition"), "trigger.condition", report),
        params=_plain(params),
    )


def _plain(value: Any) -> Any:
    """``value`` as plain dicts and lists (what a source or action receives)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _action_specs(value: Any, where: _Where, report: Report) -> tuple[ActionSpec, ...]:
    if value is None:
        report("actions", "required (a list of actions, e.g. `- scale: {factor: 2, max: 10}`)")
        return ()
    if not isinstance(value, list) or not value:
        report("actions", "must be a non-empty list of actions")
        return ()
    specs = []
    for index, item in enumerate(value):
        path = f"actions[{index}]"
        kind: Any
        params: Any
        if isinstance(item, str):
            kind, params = item, {}
        elif isinstance(item, Mapping) and len(item) == 1:
            kind, params = next(iter(item.items()))
            params = {} if params is None else params
            if not isinstance(params, Mapping):
                report(f"{path}.{kind}", f"must be a mapping of settings, not {_type(params)}")
                params = {}
        else:
            report(path, "must be a mapping of one action kind to its settings (`- restart: {}`)")
            continue
        specs.append(ActionSpec(kind=str(kind), params=_plain(params), origin=where(path)))
    return tuple(specs)


def _duration(value: Any, path: str, report: Report) -> float:
    from kubeops.models.duration import DurationError, parse_duration

    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        report(path, f"must be a duration like 5m, not {_type(value)}")
        return 0.0
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        try:
            seconds = parse_duration(value)
        except DurationError:
            report(path, f"must be a duration like 30s, 5m or 1h, not {value!r}")
            return 0.0
    if seconds < 0:
        report(path, "must not be negative")
        return 0.0
    return seconds


def _window(value: Any, path: str, report: Report) -> Window | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        report(path, f"must be a mapping {{count: N, per: DURATION}}, not {_type(value)}")
        return None
    _unknown_keys(value, WINDOW_KEYS, path, report)
    count = value.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        report(f"{path}.count", "required: a whole number, 0 or more")
        return None
    if "per" not in value:
        report(f"{path}.per", "required: a duration like 10m")
        return None
    problems: list[str] = []
    seconds = _duration(value["per"], f"{path}.per", lambda _p, cause: problems.append(cause))
    if problems or seconds <= 0:
        report(f"{path}.per", problems[0] if problems else "must be longer than zero")
        return None
    return Window(count=count, seconds=seconds)


def _bool(value: Any, path: str, report: Report) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        report(path, f"must be true or false, not {_type(value)}")
        return False
    return value


def _safety(value: Any, report: Report) -> Safety:
    if value is None:
        return Safety()
    if not isinstance(value, Mapping):
        report("safety", f"must be a mapping, not {_type(value)}")
        return Safety()
    _unknown_keys(value, SAFETY_KEYS, "safety", report)
    percent = value.get("maxScalePercent")
    if percent is not None and (
        isinstance(percent, bool) or not isinstance(percent, (int, float)) or percent <= 0
    ):
        report("safety.maxScalePercent", "must be a number greater than 0")
        percent = None
    return Safety(
        dry_run=_bool(value.get("dryRun"), "safety.dryRun", report),
        cooldown=_duration(value.get("cooldown"), "safety.cooldown", report),
        max_actions=_window(value.get("maxActions"), "safety.maxActions", report),
        dedup_window=_duration(value.get("dedup"), "safety.dedup", report),
        max_scale_percent=float(percent) if percent is not None else None,
        max_drained_nodes=_window(value.get("maxDrainedNodes"), "safety.maxDrainedNodes", report),
    )


def _global_limits(value: Any, report: Report) -> GlobalLimits:
    if not isinstance(value, Mapping):
        report("", f"must be a mapping, not {_type(value)}")
        return GlobalLimits()
    _unknown_keys(value, LIMITS_KEYS, "", report)
    defaults = GlobalLimits()
    namespace = _string(value.get("namespace"), "namespace", report) or defaults.namespace
    kill = _string(value.get("killSwitch"), "killSwitch", report) or defaults.kill_switch
    return GlobalLimits(
        max_actions=_window(value.get("maxActions"), "maxActions", report),
        dry_run=_bool(value.get("dryRun"), "dryRun", report),
        namespace=namespace,
        kill_switch=kill,
    )


# --- checking rules whatever their origin ------------------------------------------------------


def build_ruleset(
    rules: Sequence[Placed],
    limits: GlobalLimits = GlobalLimits(),  # noqa: B008 - frozen
    problems: _Problems | None = None,
    *,
    bus: BusConfig | None = None,
) -> RuleSet:
    """Check ``rules`` (each with what turns a field path into ``file:line``) and build
    their actions; raises :class:`RuleError` with every problem, those already in
    ``problems`` first."""
    problems = problems or _Problems()
    rules = [(_named_schedule(rule), where) for rule, where in rules]
    built: dict[str, tuple[Action, ...]] = {}
    seen: dict[str, str] = {}
    for rule, where in rules:
        label = f"rule {rule.name}"

        def report(
            path: str, cause: str, where: Callable[[str], str] = where, label: str = label
        ) -> None:
            problems.add(where(path), label, path, cause)

        # "#N": a YAML rule without a name, reported already.
        if not isinstance(rule.name, str) or not (
            rule.name.startswith("#") or NAME.fullmatch(rule.name)
        ):
            report("name", NAME_RULE)
        if not _check_code_types(rule, report):
            continue
        if rule.name in seen:
            report("name", f"defined twice (first at {seen[rule.name]}); rule names must be unique")
        else:
            seen[rule.name] = where("name")
        check_trigger(rule.trigger, report)
        for index, condition in enumerate(rule.conditions):
            _check_cel(condition, f"conditions[{index}]", report)
        built[rule.name] = _build_actions(rule, report)
    if problems.lines:
        raise RuleError(_in_file_order(problems.lines))
    return RuleSet(rules=tuple(rule for rule, _ in rules), limits=limits, actions=built, bus=bus)


def _check_code_types(rule: Rule, report: Report) -> bool:
    """What YAML parsing guarantees and code may get wrong (``names="x"``, a condition
    that is not a string, an action that is not an ActionSpec); False when one is wrong."""
    found: list[str] = []

    def note(path: str, cause: str) -> None:
        found.append(path)
        report(path, cause)

    trigger = rule.trigger
    if not isinstance(trigger, Trigger):
        note("trigger", f"must be a Trigger, not {type(trigger).__name__}")
        return False
    for path, value in (("trigger.names", trigger.names), ("trigger.namespaces", trigger.namespaces),
                        ("conditions", rule.conditions)):  # fmt: skip
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            note(path, "must be a tuple of strings")
    for path, text in (
        ("trigger.selector", trigger.selector),
        ("trigger.condition", trigger.condition),
    ):
        if not isinstance(text, str):
            note(path, f"must be a string, not {type(text).__name__}")
    for index, spec in enumerate(rule.actions):
        if not isinstance(spec, ActionSpec):
            note(f"actions[{index}]", f"must be an ActionSpec, not {type(spec).__name__}")
    if not isinstance(rule.safety, Safety):
        note("safety", f"must be a Safety, not {type(rule.safety).__name__}")
    return not found


def _named_schedule(rule: Rule) -> Rule:
    """A schedule fires events named after its rule (their identity needs the name)."""
    trigger = rule.trigger
    if trigger.source != "schedule" or trigger.names:
        return rule
    return replace(rule, trigger=replace(trigger, names=(rule.name,)))


_PLACE = re.compile(r"^(.*?):(\d+): ")


def _in_file_order(lines: list[str]) -> list[str]:
    """Problems sorted by file (in the order first met) and line, stably."""
    files: dict[str, int] = {}
    keys = []
    for text in lines:
        place = _PLACE.match(text)
        file, line = (place.group(1), int(place.group(2))) if place else (text, 0)
        keys.append((files.setdefault(file, len(files)), line))
    order = sorted(range(len(lines)), key=lambda i: keys[i])
    return [lines[i] for i in order]


def check_trigger(trigger: Trigger, report: Report) -> None:
    """Report what is wrong with ``trigger``: its source, selector, CEL and source params."""
    from kubeops.models.selector import SelectorError, parse_selector

    if trigger.source and trigger.source not in SOURCES:
        report(
            "trigger.source",
            f"unknown source {trigger.source!r}{did_you_mean(trigger.source, SOURCES)}; "
            f"known: {', '.join(SOURCES)}",
        )
    if trigger.kind:
        _check_kind(trigger, report)
    if trigger.selector:
        try:
            parse_selector(trigger.selector)
        except SelectorError as err:
            report("trigger.selector", str(err))
    if trigger.condition:
        _check_cel(trigger.condition, "trigger.condition", report)
    if trigger.source not in SOURCES:
        return
    validate = _source_validator(trigger.source)
    if validate is None:
        return
    try:
        found = validate(trigger)
    except Exception as err:
        found = [f"cannot be checked: {type(err).__name__}: {err}"]
    for problem in found:
        path, cause = _split_field(problem)
        report(f"trigger.{path}" if path else "trigger", cause)


def _check_kind(trigger: Trigger, report: Report) -> None:
    """A kind that is no built-in one but close to one is a typo (``Deploymnet``); any
    other unknown kind may be a custom resource's, found when the source starts."""
    from kubeops.api.mapper import Mapper
    from kubeops.api.resource import BUILTIN

    if Mapper(BUILTIN).find(trigger.kind) is not None:
        return
    kinds = sorted({resource.kind for resource in BUILTIN})
    hint = did_you_mean(trigger.kind, kinds, cutoff=0.8)
    if hint:
        report("trigger.kind", f"unknown kind {trigger.kind!r}{hint}")


def _source_validator(source: str) -> Callable[[Trigger], list[str]] | None:
    try:
        from kubeops.respond.sources import SOURCES as REGISTRY
    except ImportError:
        return None
    entry = REGISTRY.get(source)
    return entry.validate if entry is not None else None


_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]-]*): (.*)$", re.DOTALL)


def _split_field(problem: str) -> tuple[str, str]:
    """``params.for: must be...`` -> (``params.for``, ``must be...``)."""
    match = _FIELD.match(problem)
    return (match.group(1), match.group(2)) if match else ("", problem)


def _check_cel(expression: str, path: str, report: Report) -> None:
    from kubeops import cel

    try:
        cel.compile(expression)
    except cel.CelError as err:
        report(path, f"invalid CEL: {err}")


def _build_actions(rule: Rule, report: Report) -> tuple[Action, ...]:
    from kubeops.respond.action import ActionSpecError
    from kubeops.respond.actions import ACTIONS

    built = []
    for index, spec in enumerate(rule.actions):
        path = f"actions[{index}].{spec.kind}"
        factory = ACTIONS.get(spec.kind)
        if factory is None:
            report(
                f"actions[{index}]",
                f"unknown action {spec.kind!r}{did_you_mean(spec.kind, ACTIONS)}; "
                f"known: {', '.join(sorted(ACTIONS))}",
            )
            continue
        try:
            built.append(factory(spec))
        except ActionSpecError as err:
            field_path, cause = _split_field(str(err))
            report(f"{path}.{field_path}" if field_path else path, cause)
        except Exception as err:
            report(path, f"cannot be built: {type(err).__name__}: {err}")
    return tuple(built)


def with_dry_run(ruleset: RuleSet) -> RuleSet:
    """``ruleset`` with the global dry run on (``respond replay``, ``run --dry-run``)."""
    return replace(ruleset, limits=replace(ruleset.limits, dry_run=True))
