"""Shared fixtures: a throwaway PostgreSQL server and a real S3 server (SeaweedFS) for the session.

PostgreSQL refuses to run as root, so under root (CI, containers) initdb and pg_ctl run as the
``postgres`` OS user through ``runuser``; the data directory lives in a temporary folder owned by
that user. The server listens on 127.0.0.1 only, on a free port, and is stopped at session end.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres import PostgresServer, new_database
from seaweedfs import SeaweedFS, s3_unavailable_reason, start_seaweedfs, stop_seaweedfs, weed_binary


def _postgres_bindir() -> Path | None:
    override = os.environ.get("BERTH_PG_BINDIR")
    candidates = [Path(override)] if override else []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    installed = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(installed, key=lambda p: _version(p.parent.name), reverse=True)
    return next((c for c in candidates if (c / "initdb").exists()), None)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_owner(command: list[str]) -> None:
    """Run a PostgreSQL command, as the ``postgres`` user when we are root."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgresServer]:
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found; set BERTH_PG_BINDIR")
    root = Path(tempfile.mkdtemp(prefix="berth-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")  # KeyError: running as root needs a postgres user
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, port, pg_ctl = root / "data", _free_port(), str(bindir / "pg_ctl")
    _as_owner([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-N"])
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    _as_owner([pg_ctl, "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start"])
    try:
        yield PostgresServer("127.0.0.1", port, "postgres", itertools.count())
    finally:
        _as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


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
