"""Reading a PolicyLibrary document: every field checked, every mistake one
:class:`~kubeops.policy.model.Problem` naming the file, the field's line, the entry
and the cause, so a typo (``requireDigets``) is refused rather than ignored.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeops.policy.model import Problem, Source
from kubeops.policy.scan import ScanReport


@dataclass(frozen=True)
class Environment:
    """What a built-in may be configured with besides its settings."""

    scans: Sequence[ScanReport] = ()
    today: datetime.date | None = None  # None: the day the policy evaluates


class Reader:
    """One mapping of a PolicyLibrary document, read with the lines ``safe_yaml`` marked."""

    def __init__(
        self,
        value: Mapping[str, Any],
        source: Source,
        policy: str,
        path: str,
        problems: list[Problem],
    ) -> None:
        self.value = value
        self.source = source
        self.policy = policy
        self.path = path
        self.problems = problems

    def where(self, key: str | None = None) -> Source:
        """The file and the line of ``key`` (of the mapping itself when None)."""
        line_of = getattr(self.value, "line_of", None)
        if key is not None and callable(line_of):
            return Source(self.source.file, int(line_of(key)) or self.source.line)
        line = getattr(self.value, "line", 0)
        return Source(self.source.file, int(line) or self.source.line)

    def field(self, key: str) -> str:
        """The field path of ``key`` for messages (``spec.builtins[0].settings.level``)."""
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str | None, cause: str) -> None:
        """Record a problem with ``key`` (the mapping itself when None)."""
        path = self.field(key) if key is not None else self.path
        what = f"{path}: " if path else ""
        self.problems.append(Problem(self.where(key), self.policy, what + cause))

    def only(self, allowed: Sequence[str]) -> None:
        """A problem for each key not in ``allowed`` (typos are refused, never ignored)."""
        for key in self.value:
            if key not in allowed:
                self.problem(str(key), f"unknown field (expected one of {', '.join(allowed)})")

    def string(self, key: str, default: str = "", choices: Sequence[str] = ()) -> str:
        """A string field; ``choices`` limits it (compared without case, returned as listed)."""
        value = self.value.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(key, f"expected a string, not {value!r}")
            return default
        if choices:
            for choice in choices:
                if choice.lower() == value.lower():
                    return choice
            self.problem(key, f"{value!r} is not one of {', '.join(choices)}")
            return default
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        """A true/false field."""
        value = self.value.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key, f"expected true or false, not {value!r}")
            return default
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        """A number field within [low, high]."""
        value = self.value.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, f"expected a number, not {value!r}")
            return default
        if not low <= value <= high:
            self.problem(key, f"{value} is outside {low:g}..{high:g}")
            return default
        return float(value)

    def strings(self, key: str, default: Sequence[str] = ()) -> tuple[str, ...]:
        """A list of strings field."""
        value = self.value.get(key)
        if value is None:
            return tuple(default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.problem(key, "expected a list of non-empty strings")
            return tuple(default)
        return tuple(value)

    def mapping(self, key: str) -> Reader | None:
        """A nested mapping field, or None when absent (a problem when not a mapping)."""
        value = self.value.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(key, "expected a mapping")
            return None
        return Reader(value, self.where(key), self.policy, self.field(key), self.problems)

    def items(self, key: str) -> list[Reader]:
        """A list of mappings field."""
        value = self.value.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, "expected a list")
            return []
        found: list[Reader] = []
        line_of = getattr(value, "line_of", None)
        for index, item in enumerate(value):
            path = f"{self.field(key)}[{index}]"
            line = int(line_of(index)) if callable(line_of) else self.where(key).line
            source = Source(self.source.file, line)
            if not isinstance(item, dict):
                self.problems.append(Problem(source, self.policy, f"{path}: expected a mapping"))
                continue
            found.append(Reader(item, source, self.policy, path, self.problems))
        return found

    def date(self, key: str) -> datetime.date | None:
        """A date field (``2026-12-31``, or an RFC 3339 time whose day is taken)."""
        value = self.value.get(key)
        if value is None:
            return None
        text = str(value).strip()
        try:
            if len(text) == 10:
                return datetime.date.fromisoformat(text)
            return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            self.problem(key, f"{text!r} is not a date (YYYY-MM-DD)")
            return None
