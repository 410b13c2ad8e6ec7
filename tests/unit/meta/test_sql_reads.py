"""Read transactions on SQLite: stdlib connections used on the loop (``_sqlite_reader_engine``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from berth.meta.base import Repository
from berth.meta.sql import SqlMetaStore

T0 = datetime(2024, 5, 1, tzinfo=UTC)


async def test_more_reads_at_once_than_pooled_connections_all_finish(store: SqlMetaStore) -> None:
    async with store.transaction() as tx:
        repo = await tx.repositories.create(Repository(id=0, name="web", created_at=T0))
    started = asyncio.Event()
    holding = 0

    async def read() -> list[str]:
        nonlocal holding
        async with store.read() as tx:
            holding += 1
            if holding == 12:
                started.set()
            await started.wait()  # every read holds its connection until all twelve are open
            return await tx.tags.list(repo.id)

    assert await asyncio.wait_for(asyncio.gather(*(read() for _ in range(12))), 10) == [[]] * 12


async def test_a_read_keeps_its_snapshot_while_a_writer_commits(store: SqlMetaStore) -> None:
    async with store.transaction() as tx:
        repo = await tx.repositories.create(Repository(id=0, name="web", created_at=T0))
        await tx.tags.put(repo.id, "v1", "sha256:" + "1" * 64, T0)
    async with store.read() as tx:
        assert await tx.tags.list(repo.id) == ["v1"]
        async with store.transaction() as writer:
            await writer.tags.put(repo.id, "v2", "sha256:" + "2" * 64, T0)
        assert await tx.tags.list(repo.id) == ["v1"]
    async with store.read() as tx:
        assert await tx.tags.list(repo.id) == ["v1", "v2"]


async def test_a_write_in_a_read_fails_at_once_while_the_writer_holds_the_lock(
    store: SqlMetaStore,
) -> None:
    """The reader never waits on the loop for the write lock (``query_only``)."""
    async with store.transaction() as writer:
        await writer.settings.put("held", 1)
        async with store.read() as tx:
            with pytest.raises(OperationalError, match="readonly"):
                await asyncio.wait_for(tx.settings.put("sneaky", 1), 1)
    async with store.read() as tx:
        assert await tx.settings.get("sneaky") is None
        assert await tx.settings.get("held") == 1
