"""ReadCache: what a read found, kept until the next write to the tables it read commits.

An entry is served only while the write generation of the tables it was read from is the one
noted before the read, so it never outlives a write of this process, nor of any other process
that shares the generation (SQLite). Where other writers cannot be seen (PostgreSQL nodes), entries also expire
after ``ttl`` seconds: another node's write is seen within that time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from berth.meta.base import MetaStore

__all__ = ["CROSS_NODE_TTL", "ReadCache"]

V = TypeVar("V")

CROSS_NODE_TTL = 1.0
_LIMIT = 10_000


class ReadCache(Generic[V]):
    def __init__(
        self,
        meta: MetaStore,
        tables: tuple[str, ...],
        ttl: float = CROSS_NODE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
        limit: int = _LIMIT,
    ) -> None:
        self._meta = meta
        self._tables = tables
        self._ttl = ttl
        self._limit = limit
        self._monotonic = monotonic
        self._entries: dict[Hashable, tuple[Hashable, float, V]] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The cached value, else ``load()``'s (kept unless None: absence is never cached)."""
        generation = self._meta.generation(self._tables)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == generation and self._fresh(entry[1]):
            return entry[2]
        value = await load()
        if value is not None:
            if len(self._entries) >= self._limit:
                self._entries.clear()
            self._entries[key] = (generation, self._monotonic(), value)
        return value

    def _fresh(self, stored_at: float) -> bool:
        return self._meta.sees_other_writers or self._monotonic() - stored_at < self._ttl
