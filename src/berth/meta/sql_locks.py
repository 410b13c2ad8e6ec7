"""Cluster-wide named locks for background jobs: one holder at a time, across every process.

On PostgreSQL, a session advisory lock (``pg_try_advisory_lock``) held on a connection of its own
for the block; if the process dies, the session ends and the lock goes with it. On SQLite (worker
processes sharing one file), a lease row taken with a conditional upsert; the holder renews it
while the block runs, so a holder that dies loses it once ``lease_seconds`` pass.

Letting go always finishes, even when the holder's task is cancelled meanwhile (the job loops
are stopped with ``Task.cancel``, which an anyio shield does not hold off), and the
cancellation then goes on: a lock left taken would stop the job on every node, and a
cancellation swallowed would leave its task running when it was told to end.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import anyio
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from berth.meta.schema import leases
from berth.meta.sql_common import SqlConnection

__all__ = ["advisory_lock", "lease_lock", "lock_key"]

log = logging.getLogger("berth.meta.locks")

WriteTransaction = Callable[[], AbstractAsyncContextManager[SqlConnection]]


def lock_key(name: str) -> int:
    """The advisory lock key for ``name``: 64 bits of its SHA-256, the same on every node."""
    digest = hashlib.sha256(b"berth-job:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@asynccontextmanager
async def advisory_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """PostgreSQL: ``pg_try_advisory_lock`` on a dedicated connection, held for the block."""
    key = {"key": lock_key(name)}
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        taken = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key)).scalar())
        try:
            yield taken
        finally:
            if taken:
                with anyio.CancelScope(shield=True):
                    await _finish(_unlock(conn, key))


async def _unlock(conn: AsyncConnection, key: dict[str, int]) -> None:
    """Release the lock; if that fails, close the session, which releases it too."""
    try:
        await conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
    except SQLAlchemyError:
        log.warning("could not release an advisory lock; closing its connection")
        await conn.invalidate()


@asynccontextmanager
async def lease_lock(
    write: WriteTransaction, name: str, lease_seconds: float
) -> AsyncIterator[bool]:
    """SQLite: a lease row for ``name``, renewed every third of ``lease_seconds``."""
    holder = uuid.uuid4().hex
    if not await _take(write, name, holder, lease_seconds):
        yield False
        return
    renewal = asyncio.create_task(_renew(write, name, holder, lease_seconds))
    try:
        yield True
    finally:
        renewal.cancel()
        with anyio.CancelScope(shield=True):
            await _finish(_stop_then_release(renewal, write, name, holder))


async def _finish(letting_go: Awaitable[None]) -> None:
    """Run ``letting_go`` to its end, then raise the cancellation that came meanwhile, if any."""
    task = asyncio.ensure_future(letting_go)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as error:
            cancelled = error
    if cancelled is None:
        task.result()
        return
    failure = None if task.cancelled() else task.exception()
    if failure is not None:
        log.error("letting go of a lock failed", exc_info=failure)
    raise cancelled


def _now() -> datetime:
    return datetime.now(UTC)


async def _take(write: WriteTransaction, name: str, holder: str, lease_seconds: float) -> bool:
    now = _now()
    statement = sqlite.insert(leases).values(
        name=name, holder=holder, expires_at=now + timedelta(seconds=lease_seconds)
    )
    statement = statement.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
        where=leases.c.expires_at < now,
    )
    async with write() as conn:
        await conn.execute(statement)
        current = await conn.scalar(select(leases.c.holder).where(leases.c.name == name))
    return current == holder


async def _renew(write: WriteTransaction, name: str, holder: str, lease_seconds: float) -> None:
    while True:
        await asyncio.sleep(lease_seconds / 3)
        statement = (
            leases.update()
            .where(leases.c.name == name, leases.c.holder == holder)
            .values(expires_at=_now() + timedelta(seconds=lease_seconds))
        )
        try:
            async with write() as conn:
                renewed = (await conn.execute(statement)).rowcount > 0
        except SQLAlchemyError:
            log.warning("could not renew the lease on %s; will retry", name)
            continue
        if not renewed:
            log.warning("lost the lease on %s (it expired and another process took it)", name)
            return


async def _stop_then_release(
    renewal: asyncio.Task[None], write: WriteTransaction, name: str, holder: str
) -> None:
    await asyncio.wait([renewal])
    failure = None if renewal.cancelled() else renewal.exception()
    if failure is not None:
        log.error("renewing the lease on %s failed", name, exc_info=failure)
    await _release(write, name, holder)


async def _release(write: WriteTransaction, name: str, holder: str) -> None:
    statement = leases.delete().where(leases.c.name == name, leases.c.holder == holder)
    try:
        async with write() as conn:
            await conn.execute(statement)
    except SQLAlchemyError:
        log.warning("could not release the lease on %s; it lapses on its own", name)
