"""The read caches: ReadCache (what a read found, kept until the next write to the tables it
read commits) and TtlCache (kept for a few seconds).

A ReadCache entry is served only while the write generation of the tables it was read from is
the one noted before the read, so it never outlives a write of this process, nor of any other
process that shares the generation (SQLite). Where other writers cannot be seen (PostgreSQL
nodes), entries also expire after ``ttl`` seconds: another node's write is seen within that time.

Both share a key's load between the callers that miss it at once: when an entry lapses under
load, one query runs for the whole burst of requests, not one per request. The shared load runs
as its own task, so one caller going away does not fail the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from berth.meta.base import MetaStore

__all__ = ["CROSS_NODE_TTL", "ReadCache", "TtlCache"]

log = logging.getLogger("berth.cache")

V = TypeVar("V")

CROSS_NODE_TTL = 1.0
_LIMIT = 10_000
_REFRESH_AFTER = 0.75
"""A TtlCache entry this far into its life is reloaded in the background while still served."""


class _SharedLoads(Generic[V]):
    """At most one load in flight per key; callers that miss meanwhile wait for it."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[V]] = {}

    def running(self, key: Hashable) -> asyncio.Future[V] | None:
        return self._running.get(key)

    def start(
        self,
        key: Hashable,
        load: Callable[[], Awaitable[V]],
        done: Callable[[V], None],
    ) -> asyncio.Future[V]:
        """Run ``load()`` as a task; ``done(value)`` runs before any waiter sees the value."""
        task: asyncio.Future[V] = asyncio.ensure_future(load())
        self._running[key] = task

        def settle(finished: asyncio.Future[V]) -> None:
            if self._running.get(key) is finished:
                del self._running[key]
            if finished.cancelled():
                return
            error = finished.exception()
            if error is None:
                done(finished.result())
            else:
                log.debug("cache load of %r failed: %s", key, error)

        task.add_done_callback(settle)
        return task

    async def join(
        self, key: Hashable, load: Callable[[], Awaitable[V]], done: Callable[[V], None]
    ) -> V:
        """The value of the load in flight for ``key``, starting one if there is none."""
        task = self.running(key) or self.start(key, load, done)
        return await asyncio.shield(task)


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
        self._loads: _SharedLoads[V | None] = _SharedLoads()

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The cached value, else ``load()``'s (kept unless None: absence is never cached)."""
        generation = self._meta.generation(self._tables)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == generation and self._fresh(entry[1]):
            return entry[2]
        return await self._loads.join(
            (generation, key), load, lambda value: self._keep(key, generation, value)
        )

    def _keep(self, key: Hashable, generation: Hashable, value: V | None) -> None:
        if value is None or generation != self._meta.generation(self._tables):
            return
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[key] = (generation, self._monotonic(), value)

    def _fresh(self, stored_at: float) -> bool:
        return self._meta.sees_other_writers or self._monotonic() - stored_at < self._ttl


@dataclass(frozen=True, slots=True)
class _Timed(Generic[V]):
    value: V
    refresh_at: float
    expires_at: float


class TtlCache(Generic[V]):
    """Values kept for ``ttl`` seconds; ``clear`` (on writes) drops them all at once.

    An entry three quarters through its life is still served while one background load
    replaces it, so a key in steady use never lapses and no request waits for it. A value is
    never served more than ``ttl`` seconds after the load that read it began.
    """

    def __init__(
        self, ttl: float, monotonic: Callable[[], float] = time.monotonic, limit: int = _LIMIT
    ) -> None:
        self._ttl = ttl
        self._monotonic = monotonic
        self._limit = limit
        self._values: dict[Hashable, _Timed[V]] = {}
        self._loads: _SharedLoads[V] = _SharedLoads()
        self._generation = 0

    def get(self, key: Hashable) -> V | None:
        found = self._values.get(key)
        if found is None or found.expires_at <= self._monotonic():
            return None
        return found.value

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, else ``load()``'s, kept for ``ttl`` seconds."""
        found = self._values.get(key)
        now = self._monotonic()
        if found is None or found.expires_at <= now:
            return await self._loads.join(key, load, self._keeper(key, now))
        if found.refresh_at <= now and self._loads.running(key) is None:
            self._loads.start(key, load, self._keeper(key, now))
        return found.value

    def _keeper(self, key: Hashable, started: float) -> Callable[[V], None]:
        """Store a loaded value unless ``clear`` ran since the load began."""
        generation = self._generation

        def keep(value: V) -> None:
            if generation == self._generation:
                self._store(key, value, started)

        return keep

    def put(self, key: Hashable, value: V) -> None:
        self._store(key, value, self._monotonic())

    def _store(self, key: Hashable, value: V, loaded_at: float) -> None:
        if len(self._values) >= self._limit:
            self._values.clear()
        refresh_at = loaded_at + self._ttl * _REFRESH_AFTER
        self._values[key] = _Timed(value, refresh_at, loaded_at + self._ttl)

    def forget(self, key: Hashable) -> None:
        self._values.pop(key, None)
        self._generation += 1

    def clear(self) -> None:
        self._values.clear()
        self._generation += 1
