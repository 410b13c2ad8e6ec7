"""The metadata store on SQLite or PostgreSQL (SQLAlchemy Core, async).

Every difference between the two databases lives here: URLs and drivers, connection set-up,
how a write transaction begins, how writers are serialised, how migrations are locked, and what
text a database can hold (PostgreSQL's cannot hold NUL: every bound string, on both, carries
U+FFFD in its place, so a lookup with one finds nothing and stored text keeps the rest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from berth.meta import migrations
from berth.meta.base import (
    AuditStore,
    BlobIndex,
    ManifestStore,
    RepositoryStore,
    SettingStore,
    SignInFailureStore,
    TagStore,
    Transaction,
    UploadStore,
)
from berth.meta.generation import LocalGeneration, SharedGeneration, WriteGeneration, slots_of
from berth.meta.identities import IdentityStore
from berth.meta.sql_audit import SqlAuditStore
from berth.meta.sql_blobs import SqlBlobIndex
from berth.meta.sql_common import InsertFactory, SqlConnection
from berth.meta.sql_direct import without_nul
from berth.meta.sql_identities import SqlIdentityStore
from berth.meta.sql_locks import advisory_lock, lease_lock
from berth.meta.sql_manifests import SqlManifestStore
from berth.meta.sql_repositories import SqlRepositoryStore
from berth.meta.sql_sign_in import SqlSignInFailureStore
from berth.meta.sql_tags import SqlTagStore
from berth.meta.sql_uploads import SqlSettingStore, SqlUploadStore
from berth.meta.sql_written import take_written, track_writes
from berth.meta.sqlite_writer import InlineConnection, SqliteWriter, prefetching_connection

__all__ = ["SqlMetaStore", "SqlTransaction", "async_url", "open_meta_store"]

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout = 30000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
)
_WRITE = "berth_write"
_SQLITE_POOL = 3
"""Pooled SQLite connections per engine, each with its page cache: the aiosqlite engine's (the
console's catalog queries and health checks, each connection with a thread; as many more on
demand) and the read transactions' on the loop (opened beyond it as needed)."""
_POSTGRES_POOL = 32
"""PostgreSQL connections kept per engine unless told otherwise (``database_pool_size``)."""
_MIGRATION_LOCK = 0x6265727468  # "berth": the advisory lock key every node agrees on


@dataclass(slots=True)
class SqlTransaction:
    """The per-aggregate stores, all bound to one connection and its transaction."""

    repositories: RepositoryStore
    blobs: BlobIndex
    manifests: ManifestStore
    tags: TagStore
    uploads: UploadStore
    settings: SettingStore
    identities: IdentityStore
    audit: AuditStore
    sign_in_failures: SignInFailureStore

    @classmethod
    def bind(cls, conn: SqlConnection, insert: InsertFactory, registry_id: str) -> SqlTransaction:
        return cls(
            repositories=SqlRepositoryStore(conn, insert, registry_id),
            blobs=SqlBlobIndex(conn, insert),
            manifests=SqlManifestStore(conn, insert),
            tags=SqlTagStore(conn, insert),
            uploads=SqlUploadStore(conn),
            settings=SqlSettingStore(conn, insert),
            identities=SqlIdentityStore.bind(conn, insert),
            audit=SqlAuditStore(conn),
            sign_in_failures=SqlSignInFailureStore(conn, insert),
        )


def async_url(url: str) -> URL:
    """``url`` with its async driver (``sqlite://`` -> aiosqlite, ``postgresql://`` -> asyncpg)."""
    parsed = make_url(url)
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported metadata database {parsed.drivername!r}: use sqlite or postgresql"
        )
    return parsed.set(drivername=driver)


class SqlMetaStore:
    """MetaStore over an AsyncEngine. Build it with ``open_meta_store``."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        registry_id: str = "",
        generation: WriteGeneration | None = None,
    ) -> None:
        self._engine = engine
        self._generation = generation or LocalGeneration()
        self._registry_id = registry_id
        self._sqlite = engine.dialect.name == "sqlite"
        self._insert: InsertFactory = sqlite.insert if self._sqlite else postgresql.insert
        self._writer = engine.execution_options(**{_WRITE: True})
        self._sqlite_writer: SqliteWriter | None = None
        self._sqlite_reader: Engine | None = None
        self._watches: dict[tuple[str, ...], tuple[int, ...]] = {}
        _replace_nul(engine.sync_engine)
        track_writes(engine.sync_engine)
        if self._sqlite:
            self._reader = engine
            _configure_sqlite(engine.sync_engine)
            self._sqlite_reader = _sqlite_reader_engine(engine)
            self._sqlite_writer = SqliteWriter(
                _sqlite_writer_engine(engine),
                Path(f"{engine.url.database}-writer.lock"),
                self._generation.bump,
            )
        else:
            self._reader = engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def sees_other_writers(self) -> bool:
        return self._generation.sees_other_writers

    def generation(self, tables: tuple[str, ...] = ()) -> Hashable:
        slots = self._watches.get(tables)
        if slots is None:
            slots = self._watches[tables] = slots_of(tables)
        return self._generation.current(slots)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._write_connection() as conn:
            yield SqlTransaction.bind(conn, self._insert, self._registry_id)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Transaction]:
        if self._sqlite_reader is not None:
            with self._sqlite_reader.connect() as inline:
                inline.begin()
                try:
                    yield SqlTransaction.bind(
                        InlineConnection(inline), self._insert, self._registry_id
                    )
                finally:
                    inline.rollback()
            return
        async with self._reader.connect() as conn:
            await conn.begin()
            try:
                yield SqlTransaction.bind(conn, self._insert, self._registry_id)
            finally:
                await conn.rollback()

    def exclusive(
        self, name: str, *, lease_seconds: float = 60.0
    ) -> AbstractAsyncContextManager[bool]:
        if self._sqlite:
            return lease_lock(self._write_connection, name, lease_seconds)
        return advisory_lock(self._engine, name)

    @asynccontextmanager
    async def _write_connection(self) -> AsyncIterator[SqlConnection]:
        if self._sqlite_writer is not None:
            async with self._sqlite_writer.transaction() as inline:
                yield inline
            return
        written = slots_of(None)
        try:
            async with self._writer.begin() as conn:
                take_written(conn.info)
                yield conn
                written = take_written(conn.info)
        finally:
            self._generation.bump(written)

    async def check(self) -> None:
        async with self._reader.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self) -> None:
        """Bring the schema to the newest revision; safe when several nodes start at once."""
        if self._sqlite_writer is not None:
            async with self._sqlite_writer.transaction() as inline:
                migrations.upgrade(inline.sync)
            return
        async with self._writer.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            await conn.run_sync(migrations.upgrade)
        self._generation.bump(slots_of(None))

    async def close(self) -> None:
        if self._sqlite_writer is not None:
            await self._sqlite_writer.close()
        if self._sqlite_reader is not None:
            self._sqlite_reader.dispose()
        await self._engine.dispose()
        self._generation.close()


def _configure_sqlite(engine: Engine) -> None:
    """Durable WAL, foreign keys, and our own BEGIN (IMMEDIATE for writers)."""

    @event.listens_for(engine, "connect")
    def connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _replace_nul(engine: Engine) -> None:
    """Bound strings with NUL carry U+FFFD instead, on both databases (see the module docstring)."""

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def replace(
        _conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> tuple[str, Any]:
        if many:
            return statement, [without_nul(row) for row in parameters]
        return statement, without_nul(parameters)


def _sqlite_writer_engine(engine: AsyncEngine) -> Engine:
    """One stdlib ``sqlite3`` connection to the same file, for ``SqliteWriter``."""
    database = engine.url.database or ""
    if database in ("", ":memory:"):
        raise ValueError(
            "SQLite metadata needs a file: an in-memory database is one per connection"
        )
    writer = create_sync_engine(
        engine.url.set(drivername="sqlite+pysqlite"),
        pool_size=1,
        max_overflow=0,
        pool_reset_on_return=None,
        connect_args=prefetching_connection(),
    )
    _replace_nul(writer)
    track_writes(writer)
    _configure_sqlite(writer)
    return writer.execution_options(**{_WRITE: True})


def _sqlite_reader_engine(engine: AsyncEngine) -> Engine:
    """Stdlib ``sqlite3`` connections to the same file, for read transactions on the loop.

    Through aiosqlite a read transaction was nine round trips to its thread (BEGIN, each
    statement as cursor, execute, fetch and close, ROLLBACK): 1.5 ms for an empty tag list, where
    SQLite itself takes microseconds. A WAL reader never waits for the writer, so its statements
    run on the loop as the writer's do. It waits for a lock only while a connection recovers the
    file after a crash or takes it exclusively, and no other connection can take it while
    Berth's own are open (tried: ``BEGIN EXCLUSIVE`` in exclusive locking mode is refused). The pool never blocks: beyond ``_SQLITE_POOL``
    connections in use, another is opened (and closed when given back). The connections are
    ``query_only``: a write tried in a read fails at once instead of waiting on the loop for the
    write lock.
    """
    reader = create_sync_engine(
        engine.url.set(drivername="sqlite+pysqlite"),
        pool_size=_SQLITE_POOL,
        max_overflow=-1,
        pool_reset_on_return=None,
        connect_args=prefetching_connection(),
    )
    _replace_nul(reader)
    _configure_sqlite(reader)

    @event.listens_for(reader, "connect")
    def read_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")

    return reader


def _generation_for(url: str) -> WriteGeneration:
    """Shared by every process on this machine for a SQLite file; this process's own otherwise."""
    parsed = async_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return LocalGeneration()
    return SharedGeneration(Path(f"{database}-generation"))


def create_engine(url: str, pool_size: int = _POSTGRES_POOL) -> AsyncEngine:
    """An AsyncEngine for ``url`` with Berth's pool settings.

    On PostgreSQL the pool keeps ``pool_size`` connections and opens up to half as many more
    under a burst, closing each as it is given back. It keeps as many as one worker's requests
    use at once: each transaction past them opened its own connection (a new server process),
    and with 10 kept, 32 concurrent manifest PUTs ran 305-339 a second, with 32 kept 544-570
    (``benchmarks/pg_bench.py``'s PostgreSQL on the same machine).
    """
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Every path here ends its own transaction; a second ROLLBACK on check-in is a wasted hop.
        return create_async_engine(
            parsed, pool_reset_on_return=None, pool_size=_SQLITE_POOL, max_overflow=_SQLITE_POOL
        )
    overflow = max(pool_size // 2, 1)
    return create_async_engine(
        parsed, pool_size=pool_size, max_overflow=overflow, pool_pre_ping=True
    )


async def open_meta_store(
    url: str, *, registry_id: str = "", pool_size: int = _POSTGRES_POOL
) -> SqlMetaStore:
    """Connect to ``url``, migrate it to the newest schema and return the store."""
    store = SqlMetaStore(
        create_engine(url, pool_size), registry_id=registry_id, generation=_generation_for(url)
    )
    try:
        await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store
