"""SQLite write transactions: run on the event loop, committed in groups.

SQLite takes one writer at a time, so a writer's transaction is only as quick as the slowest
step it holds the write lock through. Through aiosqlite every statement is a round trip to
another thread (a queue put, a thread wake-up, a call back into the loop): 0.4-0.9 ms each on a
busy machine, and a manifest PUT makes a dozen. Here a write transaction's statements run
directly on the event loop on one stdlib ``sqlite3`` connection instead (microseconds each: they
never wait, because the writer holds SQLite's write lock and WAL readers never block it).

Only the two steps that may wait leave the loop: taking the write lock when another process
(a second worker, the CLI) holds it, and the COMMIT, which fsyncs. Berth processes queue for the
write lock on a file lock beside the database, where the kernel wakes the next one as soon as
it is free (SQLite's own busy handler polls, sleeping up to 100 ms between tries). Writers that arrive while a
COMMIT is running queue, then each runs in a SAVEPOINT of one shared transaction, and one COMMIT
makes the whole group durable (group commit). A writer returns only after the COMMIT that holds
its writes; a writer that fails rolls back to its SAVEPOINT and leaves the others untouched.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlalchemy.engine import Connection, CursorResult, RootTransaction
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import Insert

from berth.meta.sql_direct import InsertResult, Parameters, insert_directly
from berth.meta.sql_written import take_written

__all__ = ["InlineConnection", "SqliteWriter", "prefetching_connection"]

log = logging.getLogger("berth.meta.sqlite")

_BUSY_TIMEOUT_MS = 30_000
_SAVEPOINT = "berth_writer"


class _PrefetchingCursor(sqlite3.Cursor):
    """Reads every row a statement returns when it runs, as aiosqlite does.

    The stores read results as if fully fetched (a SELECT's rows read after an UPDATE of them);
    with a lazy ``sqlite3`` cursor those would be read mid-statement.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self._rows: deque[Any] = deque()

    def execute(self, sql: str, parameters: Any = (), /) -> _PrefetchingCursor:
        super().execute(sql, parameters)
        self._rows = deque(super().fetchall() if self.description else ())
        return self

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> _PrefetchingCursor:
        return self

    def __next__(self) -> Any:
        if not self._rows:
            raise StopIteration
        return self._rows.popleft()


class _PrefetchingConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _PrefetchingCursor) -> Any:
        return super().cursor(factory)


def prefetching_connection() -> dict[str, Any]:
    """``connect_args`` for the writer's engine: prefetching cursors, usable from any thread."""
    return {"factory": _PrefetchingConnection, "check_same_thread": False}


class InlineConnection:
    """A sync Connection behind the async API the stores use; each call runs at once."""

    def __init__(self, conn: Connection) -> None:
        self.sync = conn

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return self.sync.execute(statement, parameters)

    async def insert(self, statement: Insert, parameters: Parameters) -> InsertResult:
        """``statement`` through ``sql_direct`` when it can go that way, else as ``execute``."""
        direct = insert_directly(self.sync, statement, parameters)
        return direct if direct is not None else self.sync.execute(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return self.sync.scalar(statement, parameters)

    async def scalars(self, statement: Executable, parameters: Any = None) -> Any:
        return self.sync.scalars(statement, parameters)


@dataclass(slots=True, eq=False)
class _Group:
    """Writers sharing one transaction, and the COMMIT they wait for."""

    conn: Connection
    transaction: RootTransaction
    committed: asyncio.Future[None]
    raw: Any
    open: bool = True
    writers: int = 0


class _ProcessLock:
    """An exclusive ``flock`` on a file, taken on the loop when free, else waited for in a thread."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    async def acquire(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            await anyio.to_thread.run_sync(fcntl.flock, self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class SqliteWriter:
    """Every write transaction of one process on one SQLite database."""

    def __init__(
        self, engine: Engine, lock_file: Path, on_commit: Callable[[tuple[int, ...]], None]
    ) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._lock = asyncio.Lock()
        self._processes = _ProcessLock(lock_file)
        self._group: _Group | None = None
        self._commits: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[InlineConnection]:
        """A write transaction; on a clean exit its writes are durable.

        A writer that fails also waits for its group's COMMIT before it raises: it may have
        failed on what an earlier writer of the group wrote (a name taken), and what it then
        reads must show that.
        """
        failure: Exception | None = None
        async with self._lock:
            group = self._group or await self._begin()
            group.raw.execute(f"SAVEPOINT {_SAVEPOINT}")
            try:
                yield InlineConnection(group.conn)
                group.raw.execute(f"RELEASE {_SAVEPOINT}")
            except Exception as error:
                self._undo(group, error)
                failure = error
            except BaseException as error:
                self._undo(group, error)
                raise
            else:
                group.writers += 1
                if group.writers == 1:
                    self._schedule_commit(group)
        if failure is None:
            await asyncio.shield(group.committed)
            return
        await asyncio.wait([group.committed])
        raise failure

    async def close(self) -> None:
        """Wait for every COMMIT asked for, then close the connection."""
        while self._commits:
            await asyncio.gather(*self._commits, return_exceptions=True)
        self._engine.dispose()
        self._processes.close()

    async def _begin(self) -> _Group:
        await self._processes.acquire()
        try:
            conn, transaction = await _begin_immediate(self._engine)
        except BaseException:
            self._processes.release()
            raise
        committed = asyncio.get_running_loop().create_future()
        group = _Group(conn, transaction, committed, conn.connection.driver_connection)
        self._group = group
        return group

    def _undo(self, group: _Group, error: BaseException) -> None:
        try:
            group.raw.execute(f"ROLLBACK TO {_SAVEPOINT}")
            group.raw.execute(f"RELEASE {_SAVEPOINT}")
        except Exception:
            log.warning("a write transaction could not roll back alone; failing its group")
            self._end(group, error, rollback=True)
            return
        if group.writers == 0:  # nobody to commit for: give the write lock back now
            self._end(group, None, rollback=True)

    def _schedule_commit(self, group: _Group) -> None:
        task = asyncio.get_running_loop().create_task(self._commit(group))
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)

    async def _commit(self, group: _Group) -> None:
        async with self._lock:  # writers already queued run first and join this group
            if not group.open:
                return
            self._group = None
            group.open = False
            with anyio.CancelScope(shield=True):
                try:
                    await anyio.to_thread.run_sync(group.transaction.commit)
                except Exception as error:
                    self._end(group, error, rollback=True)
                else:
                    self._end(group, None, rollback=False)

    def _end(self, group: _Group, error: BaseException | None, *, rollback: bool) -> None:
        if self._group is group:
            self._group = None
        group.open = False
        try:
            if rollback:
                group.transaction.rollback()
        except Exception:
            log.exception("rolling back a failed write group")
        finally:
            written = take_written(group.conn.info)
            group.conn.close()
            self._processes.release()
            self._on_commit(written)
            if not group.committed.done():
                if error is None:
                    group.committed.set_result(None)
                else:
                    group.committed.set_exception(_failed(error))


def _failed(error: BaseException) -> BaseException:
    """What a writer whose group could not commit sees: the error itself, if it is one."""
    if isinstance(error, Exception):
        return error
    return RuntimeError("the write transaction was interrupted before it committed")


async def _begin_immediate(engine: Engine) -> tuple[Connection, RootTransaction]:
    """BEGIN IMMEDIATE on the loop if the write lock is free; otherwise wait for it in a thread."""
    conn = engine.connect()
    take_written(conn.info)
    raw: Any = conn.connection.driver_connection
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        transaction = conn.begin()
    except BaseException as error:
        raw.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.close()
        if not (isinstance(error, OperationalError) and _is_busy(error)):
            raise
        return await anyio.to_thread.run_sync(_connect_and_begin, engine)
    raw.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    return conn, transaction


def _connect_and_begin(engine: Engine) -> tuple[Connection, RootTransaction]:
    conn = engine.connect()
    try:
        return conn, conn.begin()
    except BaseException:
        conn.close()
        raise


def _is_busy(error: OperationalError) -> bool:
    original = error.orig
    code = getattr(original, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(original)
