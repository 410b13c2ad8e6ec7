"""ReadCache and TtlCache: what they serve, for how long, and one load per burst of misses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from berth.meta.cache import ReadCache, TtlCache


@dataclass
class FakeMeta:
    value: int = 0
    sees_other_writers: bool = True
    other: int = 0

    def generation(self, tables: tuple[str, ...] = ()) -> int:
        return self.value if tables == ("t",) else self.other


class Loader:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> str | None:
        self.calls += 1
        return f"v{self.calls}"


async def test_a_value_is_served_until_the_generation_changes() -> None:
    meta, load = FakeMeta(), Loader()
    cache: ReadCache[str] = ReadCache(meta, ("t",))  # type: ignore[arg-type]
    assert await cache.get("k", load) == "v1"
    assert await cache.get("k", load) == "v1"
    meta.value += 1
    assert await cache.get("k", load) == "v2"
    assert load.calls == 2


async def test_absence_is_never_cached() -> None:
    calls = 0

    async def missing() -> str | None:
        nonlocal calls
        calls += 1
        return None

    cache: ReadCache[str] = ReadCache(FakeMeta(), ("t",))  # type: ignore[arg-type]
    assert await cache.get("k", missing) is None
    assert await cache.get("k", missing) is None
    assert calls == 2


async def test_without_shared_generations_entries_expire() -> None:
    now = [100.0]
    meta, load = FakeMeta(sees_other_writers=False), Loader()
    cache: ReadCache[str] = ReadCache(meta, ("t",), ttl=1.0, monotonic=lambda: now[0])  # type: ignore[arg-type]
    assert await cache.get("k", load) == "v1"
    now[0] += 0.5
    assert await cache.get("k", load) == "v1"
    now[0] += 0.6
    assert await cache.get("k", load) == "v2"


async def test_a_write_to_other_tables_keeps_the_entry() -> None:
    meta, load = FakeMeta(), Loader()
    cache: ReadCache[str] = ReadCache(meta, ("t",))  # type: ignore[arg-type]
    assert await cache.get("k", load) == "v1"
    meta.other += 1
    assert await cache.get("k", load) == "v1"


async def settled() -> None:
    """Let a background load run and its result be stored."""
    for _ in range(3):
        await asyncio.sleep(0)


class Gate:
    """A load that waits until released, counting how often it ran."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.calls += 1
        number = self.calls
        await self.release.wait()
        return f"v{number}"


async def test_callers_that_miss_at_once_share_one_load() -> None:
    gate = Gate()
    cache: ReadCache[str] = ReadCache(FakeMeta(), ("t",))  # type: ignore[arg-type]
    waiting = [asyncio.create_task(cache.get("k", gate)) for _ in range(32)]
    await asyncio.sleep(0)
    gate.release.set()
    assert await asyncio.gather(*waiting) == ["v1"] * 32
    assert gate.calls == 1
    assert await cache.get("k", gate) == "v1"


async def test_a_load_begun_before_a_write_is_not_shared_after_it() -> None:
    meta, gate = FakeMeta(), Gate()
    cache: ReadCache[str] = ReadCache(meta, ("t",))  # type: ignore[arg-type]
    before = asyncio.create_task(cache.get("k", gate))
    await asyncio.sleep(0)
    meta.value += 1
    after = asyncio.create_task(cache.get("k", gate))
    await asyncio.sleep(0)
    gate.release.set()
    assert (await before, await after) == ("v1", "v2")
    assert await cache.get("k", gate) == "v2"


async def test_a_caller_going_away_does_not_fail_the_others() -> None:
    gate = Gate()
    cache: TtlCache[str] = TtlCache(2.0)
    first = asyncio.create_task(cache.get_or_load("k", gate))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.get_or_load("k", gate))
    await asyncio.sleep(0)
    first.cancel()
    gate.release.set()
    assert await second == "v1"
    assert cache.get("k") == "v1"


async def test_a_failed_load_fails_its_callers_and_is_not_kept() -> None:
    calls = 0

    async def broken() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        raise OSError("database is gone")

    cache: TtlCache[str] = TtlCache(2.0)
    results = await asyncio.gather(
        cache.get_or_load("k", broken), cache.get_or_load("k", broken), return_exceptions=True
    )
    assert [type(result) for result in results] == [OSError, OSError]
    assert calls == 1
    with pytest.raises(OSError):
        await cache.get_or_load("k", broken)
    assert calls == 2


async def test_ttl_entries_are_reloaded_in_the_background_before_they_lapse() -> None:
    now = [100.0]
    load = Loader()
    cache: TtlCache[str] = TtlCache(2.0, monotonic=lambda: now[0])
    assert await cache.get_or_load("k", load) == "v1"
    now[0] += 1.0
    assert await cache.get_or_load("k", load) == "v1"
    assert load.calls == 1
    now[0] += 0.6
    assert await cache.get_or_load("k", load) == "v1"
    assert await cache.get_or_load("k", load) == "v1"
    await settled()
    assert load.calls == 2
    assert await cache.get_or_load("k", load) == "v2"
    now[0] += 1.9
    assert await cache.get_or_load("k", load) == "v2"
    now[0] += 0.2
    assert await cache.get_or_load("k", load) == "v3"


async def test_a_clear_during_a_load_keeps_its_value_out() -> None:
    gate = Gate()
    cache: TtlCache[str] = TtlCache(2.0)
    loading = asyncio.create_task(cache.get_or_load("k", gate))
    await asyncio.sleep(0)
    cache.clear()
    gate.release.set()
    assert await loading == "v1"
    assert cache.get("k") is None
