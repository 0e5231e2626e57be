"""Typed reads of kubeconfig fields.

A kubeconfig is hand-edited YAML, so any field can hold any type.  Every read
here checks the type and turns a mismatch into a :class:`ConfigError` naming the
entry and the field -- never the value, which may be a secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from kubeops.config.errors import ConfigError

T = TypeVar("T")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEADER_NAME_BREAKING = re.compile(r"[\x00-\x20\x7f:]")


def header_safe(value: str) -> bool:
    """Whether ``value`` can be sent as an HTTP header value as it is: no line break or
    other control character, which would end the header or smuggle another one."""
    return _CONTROL.search(value) is None


def type_name(value: object) -> str:
    """How YAML would call the type of ``value``, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    return type(value).__name__


class Fields:
    """The fields of one kubeconfig entry; ``where`` says which, e.g. "user 'a' in /x/config"."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def error(self, key: str, problem: str) -> ConfigError:
        """A :class:`ConfigError` naming ``key``, this entry and ``problem``."""
        return ConfigError(f"{key} of {self.where} {problem}")

    def has(self, key: str) -> bool:
        """Whether ``key`` is set to something (absent, null and empty all mean not)."""
        value = self.data.get(key)
        return value not in (None, "", [], {})

    def _typed(self, key: str, kind: type[T], what: str) -> T | None:
        """The value at ``key`` when it is a ``kind``, None when absent or null;
        anything else is an error saying it must be ``what``."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, kind):
            raise self.error(key, f"must be {what}, not {type_name(value)}")
        return value

    def string(self, key: str) -> str | None:
        """The string at ``key``; absent, null and empty all mean None."""
        return self._typed(key, str, "a string") or None

    def boolean(self, key: str) -> bool:
        """The boolean at ``key``; absent or null is False."""
        return self._typed(key, bool, "true or false") or False

    def header(self, key: str) -> str | None:
        """Like :meth:`string`, for a value sent in an HTTP header (a token, an
        impersonated user): a control character in it is an error, not a crash later."""
        value = self.string(key)
        if value is not None and not header_safe(value):
            raise self.error(
                key,
                "contains a line break or another control character; it is sent in an "
                "HTTP header, where that cannot be",
            )
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        """The list of strings at ``key``; absent or null is empty."""
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"must be a list of strings, not {type_name(value)}")
        return tuple(value)

    def header_strings(self, key: str) -> tuple[str, ...]:
        """Like :meth:`strings`, for values each sent in an HTTP header."""
        values = self.strings(key)
        if not all(header_safe(v) for v in values):
            raise self.error(key, "holds a line break or another control character")
        return values

    def string_lists(self, key: str) -> dict[str, tuple[str, ...]]:
        """The mapping of names to lists of strings at ``key``; absent or null is empty."""
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, f"must be a mapping of lists of strings, not {type_name(value)}")
        result: dict[str, tuple[str, ...]] = {}
        for name, items in value.items():
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise self.error(key, f"must map {name!r} to a list of strings")
            result[str(name)] = tuple(items)
        return result

    def header_string_lists(self, key: str) -> dict[str, tuple[str, ...]]:
        """Like :meth:`string_lists`, for names that end an HTTP header's name and values
        sent as its values (``as-user-extra``)."""
        result = self.string_lists(key)
        for name, values in result.items():
            if not name or _HEADER_NAME_BREAKING.search(name):
                raise self.error(key, f"has the name {name!r}, which cannot be in an HTTP header")
            if not all(header_safe(v) for v in values):
                raise self.error(key, f"maps {name!r} to a line break or another control character")
        return result

    def mapping(self, key: str) -> Mapping[str, Any] | None:
        """The mapping at ``key``, or None when absent or null."""
        return self._typed(key, dict, "a mapping")

    def items(self, key: str) -> list[Any]:
        """The list at ``key``; absent or null is empty."""
        found = self._typed(key, list, "a list")
        return [] if found is None else found

    def base64(self, key: str) -> bytes | None:
        """Decoded ``-data`` field; line breaks inside the base64 text are allowed."""
        text = self.string(key)
        if text is None:
            return None
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise self.error(key, f"is not valid base64 ({exc})") from None
