"""The document as pretty JSON with sorted keys, so two runs diff line by line."""

from __future__ import annotations

from typing import Any

import orjson


def render(document: dict[str, Any]) -> str:
    """The document as indented JSON with sorted keys, newline-terminated."""
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    return orjson.dumps(document, option=options).decode()
