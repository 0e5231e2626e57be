"""Durations as Go and kubectl write them: ``30s``, ``5m``, ``1h30m``, ``1.5h``, ``500ms``.

One grammar for every flag and argument that takes a time span (``--timeout``,
``--since``, ``--interval``, a token's lifetime), so each accepts what the others
do.  It is Go's ``time.ParseDuration`` -- a sign, then one or more decimal numbers
each with a unit (``ns``, ``us``/``µs``, ``ms``, ``s``, ``m``, ``h``) -- plus what
kubectl users also write: ``d`` for days, a bare number meaning seconds
(``--timeout=30``), units in any case, and blanks around the whole.
:func:`format_duration` writes the shortest spelling that reads back the same.
"""

from __future__ import annotations

import math
import re

from kubeops.errors import KubeopsError

__all__ = ["DurationError", "format_age", "format_duration", "parse_duration"]

_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5, as Go writes it
    "μs": 1e-6,  # U+03BC, which Go accepts too
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART = re.compile(rf"({_NUMBER})(ns|us|µs|μs|ms|s|m|h|d)")
_BARE = re.compile(_NUMBER)
# Go's bound: a duration is an int64 of nanoseconds (about 292 years).
_MAX_SECONDS = (2**63 - 1) / 1e9
ACCEPTED = "a number with a unit (30s, 5m, 1h30m, 1.5h, 500ms, 2d; units ns, us, ms, s, m, h, d) or plain seconds"


class DurationError(KubeopsError, ValueError):
    """A duration that cannot be read, or one out of the range its use allows."""


def parse_duration(text: str, *, positive: bool = False) -> float:
    """Seconds in ``text``: ``30s`` -> 30.0, ``1h30m`` -> 5400.0, ``500ms`` -> 0.5, ``90`` -> 90.0.

    A leading ``-`` gives a negative duration (``kubectl wait --timeout=-1s`` waits
    for ever); ``positive=True`` refuses zero and negative ones.  Raises
    :class:`DurationError` naming ``text`` and the accepted forms.
    """
    value = text.strip().lower()
    sign = -1.0 if value.startswith("-") else 1.0
    body = value[1:] if value[:1] in "+-" else value
    if _BARE.fullmatch(body):
        total = float(body)
    else:
        total, position = 0.0, 0
        while position < len(body):
            part = _PART.match(body, position)
            if part is None:
                break
            total += float(part.group(1)) * _SECONDS[part.group(2)]
            position = part.end()
        if not body or position != len(body):
            raise DurationError(f"invalid duration {text!r}: write {ACCEPTED}")
    if not math.isfinite(total) or total > _MAX_SECONDS:
        raise DurationError(f"invalid duration {text!r}: out of range (at most about 292 years)")
    seconds = sign * total
    if positive and seconds <= 0:
        raise DurationError(f"invalid duration {text!r}: it must be greater than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest spelling :func:`parse_duration` reads back: 5400 -> ``1h30m``, 0.5 -> ``500ms``.

    Go's short form (``1h30m`` rather than ``1h30m0s``) with days as ``d``; a
    duration of a second or more is rounded to the millisecond.
    """
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1e-6:
        return f"{round(seconds * 1e9, 3):g}ns"
    if seconds < 1e-3:
        return f"{round(seconds * 1e6, 3):g}µs"
    if seconds < 1:
        return f"{round(seconds * 1e3, 3):g}ms"
    rest = round(seconds * 1000)  # whole milliseconds, so no unit carries a rounding error
    parts = []
    for unit in ("d", "h", "m"):
        count, rest = divmod(rest, round(_SECONDS[unit] * 1000))
        if count:
            parts.append(f"{count}{unit}")
    if rest or not parts:
        parts.append(f"{rest / 1000:g}s")
    return "".join(parts)


def format_age(seconds: float) -> str:
    """An age as kubectl prints it (``HumanDuration``): ``45s``, ``7m30s``, ``95m``,
    ``3h5m``, ``20h``, ``2d4h``, ``40d``, ``3y`` -- precise when recent, coarse when old.

    Not for reading back (``95m`` is deliberate); :func:`format_duration` is.
    """
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if days < 2:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"
