"""Review answers kept for a few seconds, bounded in number, so a flood of distinct
tokens costs memory only up to the bound and a steady scraper costs one review per TTL."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_DECISIONS = 4096


class Decisions(Generic[T]):
    """A TTL map; the oldest entries go first when it is full."""

    def __init__(self, ttl: float, size: int = MAX_DECISIONS) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def get(self, key: str) -> T | None:
        """The answer kept for ``key``, or None when there is none or it expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: str, value: T) -> None:
        """Keep ``value`` for ``ttl`` seconds (nothing when ``ttl`` is 0)."""
        if self.ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
