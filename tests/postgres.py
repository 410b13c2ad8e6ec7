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


def new_database(server: PostgresServer) -> str:
    """A URL (postgresql+asyncpg) to a new, empty database on ``server``."""
    import psycopg

    name = f"berth_test_{next(server.databases)}"
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return server.url(name)
