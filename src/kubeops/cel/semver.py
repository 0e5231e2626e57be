"""Kubernetes' CEL semver library: ``semver('1.2.3').isLessThan(semver('1.10.0'))`` and friends.

As k8s.io/apiserver's ``library.SemverLib`` (version 1, with ``normalize``), which
reads versions with blang/semver: strict ``MAJOR.MINOR.PATCH[-PRE][+BUILD]``, no
leading zeros; ``semver(text, true)`` first drops a ``v`` prefix, leading zeros and
fills a short ``1.2`` to ``1.2.0``.  Versions compare by precedence, build metadata
ignored (so ``semver('1.0.0+a') == semver('1.0.0+b')``).  A version travels as
``{"kubernetes.Semver": [<version without build>]}``.
"""

from __future__ import annotations

import string
from typing import Final

from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.cel.overloads import Fn, Opaque, fn, go_quote, method, register

__all__ = ["SEMVER", "Version", "overloads", "parse"]

_T = cel.Type
SEMVER: Final = register(
    Opaque(
        "kubernetes.Semver",
        _T.Map(_T.STRING, _T.List(_T.STRING)),
        "kubernetes.Semver",
        show=lambda p: p[0],
    )
)

_DIGITS: Final = frozenset(string.digits)
_ALNUM: Final = frozenset(string.ascii_letters + string.digits + "-")
_UINT64: Final = 2**64

Version = tuple[int, int, int, tuple[int | str, ...]]


def _number(text: str, what: str) -> int:
    if not text or not set(text) <= _DIGITS:
        raise ValueError(f"Invalid character(s) found in {what} number {go_quote(text)}")
    if len(text) > 1 and text[0] == "0":
        raise ValueError(
            f"{what.capitalize()} number must not contain leading zeroes {go_quote(text)}"
        )
    value = int(text)
    if value >= _UINT64:
        raise ValueError(f"{what} number {go_quote(text)} is out of range")
    return value


def _pre(text: str) -> int | str:
    if not text:
        raise ValueError("Prerelease is empty")
    if set(text) <= _DIGITS:
        if len(text) > 1 and text[0] == "0":
            raise ValueError(
                f"Numeric PreRelease version must not contain leading zeroes {go_quote(text)}"
            )
        return int(text)
    if not set(text) <= _ALNUM:
        raise ValueError(f"Invalid character(s) found in prerelease {go_quote(text)}")
    return text


def parse(text: str) -> Version:
    """``text`` as blang/semver's ``Parse`` reads it; ValueError with its reason."""
    if not text:
        raise ValueError("Version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise ValueError("No Major.Minor.Patch elements found")
    major, minor = _number(parts[0], "major"), _number(parts[1], "minor")
    patch, plus, build = parts[2].partition("+")
    patch, dash, pre = patch.partition("-")
    prerelease = tuple(_pre(p) for p in pre.split(".")) if dash else ()
    if plus:
        for item in build.split("."):
            if not item:
                raise ValueError("Build meta data is empty")
            if not set(item) <= _ALNUM:
                raise ValueError(f"Invalid character(s) found in build meta data {go_quote(item)}")
    return major, minor, _number(patch, "patch"), prerelease


def _normalized(text: str) -> Version:
    parts = text.removeprefix("v").split(".", 2)
    for i, given in enumerate(parts):
        if len(given) > 1:
            part = given.lstrip("0")
            parts[i] = part if part and part[0] in _DIGITS else "0" + part
    if len(parts) < 3:
        if any(c in parts[-1] for c in "+-"):
            raise ValueError("short version cannot contain PreRelease/Build meta data")
        parts += ["0"] * (3 - len(parts))
    return parse(".".join(parts))


def _text(version: Version) -> str:
    major, minor, patch, pre = version
    core = f"{major}.{minor}.{patch}"
    return core + ("-" + ".".join(str(p) for p in pre) if pre else "")


def _to_cel(text: str, normalize: bool = False) -> dict[object, object]:
    try:
        version = _normalized(text) if normalize else parse(text)
    except ValueError as error:
        raise ValueError(f"semver {go_quote(text)}: {error}") from None
    return SEMVER.wrap([_text(version)])


def _is_semver(text: str, normalize: bool = False) -> bool:
    try:
        _normalized(text) if normalize else parse(text)
    except ValueError:
        return False
    return True


def _version(value: object) -> Version:
    return parse(SEMVER.unwrap(value)[0])


def _pre_key(item: int | str) -> tuple[int, int, str]:
    return (0, item, "") if isinstance(item, int) else (1, 0, item)


def compare(left: Version, right: Version) -> int:
    """blang/semver's ``Compare``: -1, 0 or 1 by precedence."""
    if left[:3] != right[:3]:
        return -1 if left[:3] < right[:3] else 1
    a, b = left[3], right[3]
    if not a or not b:
        return (not a) - (not b)
    ka, kb = [_pre_key(x) for x in a], [_pre_key(x) for x in b]
    return (ka > kb) - (ka < kb)


def _compare(left: object, right: object) -> int:
    return compare(_version(left), _version(right))


def overloads() -> list[Fn]:
    """The library's overloads (version 1: with ``normalize``)."""
    s, t = SEMVER.type, _T
    return [
        fn("semver", "string_to_semver", s, [t.STRING], _to_cel),
        fn("semver", "string_bool_to_semver", s, [t.STRING, t.BOOL], _to_cel),
        fn("isSemver", "is_semver_string", t.BOOL, [t.STRING], _is_semver),
        fn("isSemver", "is_semver_string_bool", t.BOOL, [t.STRING, t.BOOL], _is_semver),
        method("major", "semver_major", t.INT, [s], lambda v: _version(v)[0]),
        method("minor", "semver_minor", t.INT, [s], lambda v: _version(v)[1]),
        method("patch", "semver_patch", t.INT, [s], lambda v: _version(v)[2]),
        method(
            "isGreaterThan",
            "semver_is_greater_than",
            t.BOOL,
            [s, s],
            lambda a, b: _compare(a, b) > 0,
        ),
        method(
            "isLessThan", "semver_is_less_than", t.BOOL, [s, s], lambda a, b: _compare(a, b) < 0
        ),
        method("compareTo", "semver_compare_to", t.INT, [s, s], _compare),
    ]
