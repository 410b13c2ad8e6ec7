"""SqliteWriter: write transactions on the event loop, committed in groups, each durable when
it returns, each failing alone."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from berth.meta.sql import SqlMetaStore, open_meta_store


def _committed(path: Path, key: str) -> bool:
    """What another connection (another process, after a crash) reads."""
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT 1 FROM settings WHERE key = ?", (key,)).fetchone() is not None


async def _put(store: SqlMetaStore, key: str, fail: bool = False) -> None:
    async with store.transaction() as tx:
        await tx.settings.put(key, {"k": key})
        if fail:
            raise ValueError(key)


async def test_every_writer_is_committed_when_it_returns(
    store: SqlMetaStore, tmp_path: Path
) -> None:
    async def put_and_check(key: str) -> bool:
        await _put(store, key)
        return _committed(tmp_path / "berth.db", key)

    assert all(await asyncio.gather(*(put_and_check(f"k{i}") for i in range(40))))


async def test_concurrent_writers_share_commits(store: SqlMetaStore) -> None:
    commits = 0
    writer = store._sqlite_writer
    assert writer is not None
    bump = writer._on_commit

    def counted(slots: tuple[int, ...]) -> None:
        nonlocal commits
        commits += 1
        bump(slots)

    writer._on_commit = counted
    await asyncio.gather(*(_put(store, f"k{i}") for i in range(40)))
    assert 1 <= commits < 40


async def test_a_failing_writer_rolls_back_alone(store: SqlMetaStore, tmp_path: Path) -> None:
    keys = [f"k{i}" for i in range(10)]
    results = await asyncio.gather(
        *(_put(store, key, fail=key in ("k3", "k7")) for key in keys), return_exceptions=True
    )
    failed = {str(result) for result in results if isinstance(result, ValueError)}
    assert failed == {"k3", "k7"}
    database = tmp_path / "berth.db"
    assert [key for key in keys if _committed(database, key)] == [
        key for key in keys if key not in failed
    ]


async def test_a_failed_writer_gives_the_write_lock_back(
    store: SqlMetaStore, tmp_path: Path
) -> None:
    with pytest.raises(ValueError):
        await _put(store, "lost", fail=True)
    other = sqlite3.connect(tmp_path / "berth.db", timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_a_writer_waits_for_another_process_without_blocking_the_loop(
    store: SqlMetaStore, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "berth.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    writer = asyncio.create_task(_put(store, "after"))
    await asyncio.sleep(0.3)
    assert not writer.done()
    assert ticks >= 10
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(writer, 10)
    ticker.cancel()
    assert _committed(tmp_path / "berth.db", "after")


async def test_rows_are_read_whole_before_the_next_statement(store: SqlMetaStore) -> None:
    async with store.transaction() as tx:
        for i in range(5):
            await tx.settings.put(f"row{i}", i)
    async with store._write_connection() as conn:
        rows = await conn.execute(text("SELECT key FROM settings WHERE key LIKE 'row%'"))
        await conn.execute(text("DELETE FROM settings WHERE key LIKE 'row%'"))
        assert len(rows.all()) == 5


async def test_a_write_is_seen_by_the_cache_generation_of_its_tables(
    store: SqlMetaStore,
) -> None:
    settings, tags = store.generation(("settings",)), store.generation(("tags",))
    await _put(store, "seen")
    assert store.generation(("settings",)) != settings
    assert store.generation(("tags",)) == tags


async def test_closing_waits_for_pending_commits(tmp_path: Path) -> None:
    meta = await open_meta_store(f"sqlite:///{tmp_path}/other.db")
    writers = [asyncio.create_task(_put(meta, f"k{i}")) for i in range(5)]
    await asyncio.sleep(0)
    started = time.monotonic()
    await asyncio.gather(*writers)
    await meta.close()
    assert time.monotonic() - started < 10
    assert all(_committed(tmp_path / "other.db", f"k{i}") for i in range(5))


async def test_two_stores_on_one_file_take_turns(tmp_path: Path) -> None:
    """Two processes (here two stores) queue on the writer file lock; every write lands."""
    url = f"sqlite:///{tmp_path}/shared.db"
    first = await open_meta_store(url)
    second = await open_meta_store(url)
    try:
        await asyncio.gather(
            *(_put(first, f"a{i}") for i in range(30)),
            *(_put(second, f"b{i}") for i in range(30)),
        )
    finally:
        await first.close()
        await second.close()
    database = tmp_path / "shared.db"
    assert all(_committed(database, f"{side}{i}") for side in "ab" for i in range(30))


async def test_a_writer_failing_on_a_group_mates_write_raises_after_it_commits(
    store: SqlMetaStore, tmp_path: Path
) -> None:
    """Like two pushes creating one repository: the loser's next read must find it."""

    async def loser() -> bool:
        try:
            async with store.transaction() as tx:
                if await tx.settings.get("taken") is not None:
                    raise ValueError("taken")
        except ValueError:
            return _committed(tmp_path / "berth.db", "taken")
        return False

    _, seen = await asyncio.gather(_put(store, "taken"), loser())
    assert seen
