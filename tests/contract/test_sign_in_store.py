"""The SignInFailureStore contract, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from berth.meta.base import MetaStore, SignInFailure
from berth.meta.sql import open_meta_store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def meta_store(database_url: str) -> AsyncIterator[MetaStore]:
    store = await open_meta_store(database_url)
    try:
        yield store
    finally:
        await store.close()


async def test_lock_makes_missing_counters_and_put_writes_them(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        held = await tx.sign_in_failures.lock(["b", "a", "a"], T0)
        assert held == {"a": SignInFailure("a", 0, T0), "b": SignInFailure("b", 0, T0)}
        later = T0 + timedelta(seconds=5)
        await tx.sign_in_failures.put([SignInFailure("a", 3, later, later + timedelta(minutes=1))])
    async with meta_store.transaction() as tx:
        held = await tx.sign_in_failures.lock(["a"], T0 + timedelta(hours=1))
    assert held == {"a": SignInFailure("a", 3, later, later + timedelta(minutes=1))}


async def test_lock_of_no_keys_is_empty(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        assert await tx.sign_in_failures.lock([], T0) == {}
        await tx.sign_in_failures.delete([])


async def test_delete_and_purge(meta_store: MetaStore) -> None:
    blocked = T0 + timedelta(minutes=30)
    async with meta_store.transaction() as tx:
        await tx.sign_in_failures.lock(["old", "blocked", "recent", "gone"], T0)
        await tx.sign_in_failures.put(
            [
                SignInFailure("old", 2, T0),
                SignInFailure("blocked", 9, T0, blocked),
                SignInFailure("recent", 1, T0 + timedelta(minutes=10)),
            ]
        )
        await tx.sign_in_failures.delete(["gone"])
    now = T0 + timedelta(minutes=20)
    async with meta_store.transaction() as tx:
        assert await tx.sign_in_failures.purge(T0 + timedelta(minutes=5)) == 1
    async with meta_store.transaction() as tx:
        held = await tx.sign_in_failures.lock(["old", "blocked", "recent", "gone"], now)
    assert {key: counter.failures for key, counter in held.items()} == {
        "old": 0,
        "blocked": 9,
        "recent": 1,
        "gone": 0,
    }


async def test_a_held_counter_makes_another_store_wait(database_url: str) -> None:
    """Two nodes counting the same key: the second reads what the first wrote, never a copy."""
    first, second = await open_meta_store(database_url), await open_meta_store(database_url)
    try:

        async def increment(store: MetaStore) -> None:
            async with store.transaction() as tx:
                counter = (await tx.sign_in_failures.lock(["k"], T0))["k"]
                await anyio.sleep(0.05)
                await tx.sign_in_failures.put([SignInFailure("k", counter.failures + 1, T0, None)])

        async with anyio.create_task_group() as group:
            for store in (first, second, first, second):
                group.start_soon(increment, store)
        async with first.transaction() as tx:
            assert (await tx.sign_in_failures.lock(["k"], T0))["k"].failures == 4
    finally:
        await first.close()
        await second.close()
