"""ReadCache: served until a write commits; also by age where other writers are unseen."""

from __future__ import annotations

from dataclasses import dataclass

from berth.meta.cache import ReadCache


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
