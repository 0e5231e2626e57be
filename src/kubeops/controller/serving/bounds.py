"""Bounds on what a URL may ask for: a path parameter out of range is a 404 and a
query value that is not a number a 400, decided before any database or cluster is
asked, so a 20-digit run id is an ordinary "not found", never an overflow."""

from __future__ import annotations

import re

from aiohttp import web

MAX_ID = 2**63 - 1
"""The largest id a database's BIGINT column holds."""
NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
"""A Kubernetes object name (a DNS subdomain)."""


def not_found() -> web.HTTPNotFound:
    """The plain 404 every bound answers with."""
    return web.HTTPNotFound(text="404: not found\n")


def path_int(request: web.Request, name: str, *, minimum: int = 1, maximum: int = MAX_ID) -> int:
    """The path parameter ``name`` as a whole number in [minimum, maximum], else 404."""
    text = request.match_info.get(name, "")
    if not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)):
        raise not_found()
    value = int(text)
    if not minimum <= value <= maximum:
        raise not_found()
    return value


def path_name(
    request: web.Request, name: str, *, pattern: re.Pattern[str] = NAME, max_length: int = 253
) -> str:
    """The path parameter ``name`` when it matches ``pattern`` and is at most ``max_length``
    characters, else 404."""
    text = request.match_info.get(name, "")
    if len(text) > max_length or not pattern.fullmatch(text):
        raise not_found()
    return text


def query_int(request: web.Request, name: str, default: int, *, minimum: int, maximum: int) -> int:
    """The query parameter ``name`` as a whole number, clamped to [minimum, maximum];
    ``default`` when absent, 400 when it is not a number."""
    text = request.query.get(name)
    if text is None:
        return default
    text = text.strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 20:
        raise web.HTTPBadRequest(text=f"400: {name} must be a whole number\n")
    return max(minimum, min(int(text), maximum))
