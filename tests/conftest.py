"""Shared fixtures: a throwaway PostgreSQL server (``postgres.py`` says how it runs) and a real S3
server (SeaweedFS) for the session."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from postgres import PostgresServer, new_database, postgres_bindir, running_postgresql
from seaweedfs import SeaweedFS, s3_unavailable_reason, start_seaweedfs, stop_seaweedfs, weed_binary


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgresServer]:
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found; set BERTH_PG_BINDIR")
    with running_postgresql(bindir) as server:
        yield server


@pytest.fixture
def postgresql_url(postgresql_server: PostgresServer) -> str:
    """A URL (postgresql+asyncpg) to a new, empty database on the session's server."""
    return new_database(postgresql_server)


@pytest.fixture(scope="session")
def postgresql_migrated(postgresql_server: PostgresServer) -> str:
    """The name of a database on the session's server migrated to the newest schema, once."""
    import psycopg
    from sqlalchemy.engine import make_url

    from berth.meta.sql import open_meta_store

    url = new_database(postgresql_server)

    async def migrate() -> None:
        store = await open_meta_store(url)
        await store.close()

    asyncio.run(migrate())
    name = make_url(url).database
    assert name is not None
    # No session (autovacuum included) may be connected to a template while it is copied.
    with psycopg.connect(
        host=postgresql_server.host,
        port=postgresql_server.port,
        user=postgresql_server.user,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')  # type: ignore[arg-type]
    return name


@pytest.fixture
def postgresql_schema_url(postgresql_server: PostgresServer, postgresql_migrated: str) -> str:
    """A URL to a new database already at the newest schema (a copy of a migrated template):
    what a node finds after its first start, made in a fraction of the time migrating takes."""
    return new_database(postgresql_server, template=postgresql_migrated)


# -- a real S3 server (SeaweedFS) for the session, a bucket per test ------------------------------


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    reason = s3_unavailable_reason()
    weed = weed_binary()
    if reason is not None or weed is None:
        pytest.skip(reason or "no weed binary")
    running = start_seaweedfs(weed)
    try:
        yield running.server
    finally:
        stop_seaweedfs(running)


def new_bucket(server: SeaweedFS) -> str:
    bucket = f"berth-{uuid.uuid4().hex[:16]}"
    server.client().create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_bucket(seaweedfs: SeaweedFS) -> Iterator[str]:
    """A fresh, empty bucket for one test; removed with everything in it afterwards."""
    bucket = new_bucket(seaweedfs)
    yield bucket
    seaweedfs.client().delete_bucket(Bucket=bucket)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """In-process suites that take this run twice: on SQLite (None: the data dir's database)
    and on PostgreSQL. ``-m "not postgres"`` runs SQLite only."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgresql_schema_url")
    return url
