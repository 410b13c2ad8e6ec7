"""Migrations build exactly ``schema.metadata``, run twice harmlessly, and tolerate racing nodes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from berth.meta import migrations
from berth.meta.migrations import alembic_config
from berth.meta.schema import metadata
from berth.meta.sql import SqlMetaStore, create_engine, open_meta_store

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_the_migrations_form_one_line() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _assert_no_drift(url: str) -> None:
    store = await open_meta_store(url)
    try:
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await store.close()
    assert tables == set(metadata.tables) | {"alembic_version"}


async def test_migrated_sqlite_schema_matches_metadata(tmp_path: Path) -> None:
    await _assert_no_drift(f"sqlite+aiosqlite:///{tmp_path / 'berth.db'}")


@pytest.mark.postgres
async def test_migrated_postgresql_schema_matches_metadata(postgresql_url: str) -> None:
    await _assert_no_drift(postgresql_url)


async def test_open_meta_store_twice_is_harmless(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'berth.db'}"
    for _ in range(2):
        store = await open_meta_store(url)
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_revision) == HEAD
        await store.close()


@pytest.mark.postgres
async def test_nodes_starting_at_once_migrate_once(postgresql_url: str) -> None:
    stores = await asyncio.gather(*(open_meta_store(postgresql_url) for _ in range(4)))
    try:
        async with stores[0].engine.connect() as conn:
            assert await conn.run_sync(_revision) == HEAD
    finally:
        for store in stores:
            await store.close()


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_0004_backfills_link_times(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'berth.db'}"
        if database == "sqlite"
        else str(request.getfixturevalue("postgresql_url"))
    )
    engine = create_engine(url)
    before = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrations.upgrade, "0003")
            await conn.execute(
                text(
                    "INSERT INTO repositories (name, created_at, tag_mutability,"
                    " tag_mutability_exclusions, scan_on_push, encryption_type, resource_tags)"
                    " VALUES ('web', :now, 'MUTABLE', '[]', false, 'AES256', '{}')"
                ),
                {"now": before},
            )
            await conn.execute(
                text(
                    "INSERT INTO repository_blobs (repository_id, digest)"
                    " SELECT id, 'sha256:' || 'ab' FROM repositories"
                )
            )
        async with engine.begin() as conn:
            await conn.run_sync(migrations.upgrade)
        store = SqlMetaStore(engine)
        async with store.read() as tx:
            repository = await tx.repositories.get("web")
            assert repository is not None
            stale = await tx.blobs.stale_links(datetime.now(UTC) + timedelta(seconds=1), 10)
            assert stale == [(repository.id, "sha256:ab")]
            assert await tx.blobs.stale_links(before - timedelta(seconds=1), 10) == []
    finally:
        await engine.dispose()


def test_unknown_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported metadata database 'mysql'"):
        asyncio.run(open_meta_store("mysql://localhost/berth"))
