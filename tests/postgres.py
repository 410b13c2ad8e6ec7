"""A throwaway PostgreSQL server, and new databases on it: the tests' session fixture
(``conftest.py``) and ``benchmarks/pg_bench.py`` start it.

PostgreSQL refuses to run as root, so under root (CI, containers) initdb and pg_ctl run as the
``postgres`` OS user through ``runuser``; the data directory lives in a temporary folder owned by
that user. The server listens on 127.0.0.1 only, on a free port, and is stopped when its context
ends.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    databases: Iterator[int]

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"


def new_database(server: PostgresServer, template: str | None = None) -> str:
    """A URL (postgresql+asyncpg) to a new database on ``server``: empty, or a copy of the
    database ``template`` (which must have no connections)."""
    import psycopg

    name = f"berth_test_{next(server.databases)}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')  # type: ignore[arg-type]
    return server.url(name)


def postgres_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: ``BERTH_PG_BINDIR``, ``PATH``, or the newest
    ``/usr/lib/postgresql/*/bin``."""
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


@contextmanager
def running_postgresql(bindir: Path, *, durable: bool = False) -> Iterator[PostgresServer]:
    """A new PostgreSQL server until the context ends. Not ``durable`` (the tests), it skips
    fsync; durable (benchmarks), it commits as a production server does."""
    root = Path(tempfile.mkdtemp(prefix="berth-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")  # KeyError: running as root needs a postgres user
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, port, pg_ctl = root / "data", _free_port(), str(bindir / "pg_ctl")
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    _as_owner(initdb if durable else [*initdb, "-N"])
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root}"
    options += " -c max_connections=200" if durable else " -c fsync=off"
    _as_owner([pg_ctl, "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start"])
    try:
        yield PostgresServer("127.0.0.1", port, "postgres", itertools.count())
    finally:
        _as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)
