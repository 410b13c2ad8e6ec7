"""A throwaway PostgreSQL server as the session fixture (``conftest.py``) describes it, and new
databases on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


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
