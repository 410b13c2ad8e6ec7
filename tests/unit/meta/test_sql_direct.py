"""sql_direct: INSERTs sent straight to sqlite3 store and report what SQLAlchemy's would."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from berth.meta.base import Manifest, Reference, ReferenceKind, Repository
from berth.meta.schema import manifest_references, tags
from berth.meta.sql import SqlMetaStore
from berth.meta.sql_direct import insert_directly
from berth.meta.sqlite_writer import InlineConnection

AT = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
LAYER = "sha256:" + "1" * 64
CONFIG = "sha256:" + "2" * 64


async def _repository(store: SqlMetaStore) -> Repository:
    async with store.transaction() as tx:
        repository = await tx.repositories.create(Repository(0, "team/app", AT))
        for digest in (LAYER, CONFIG):
            await tx.blobs.put(digest, 10, AT)
            await tx.blobs.link(repository.id, digest, AT)
    return repository


def _manifest(
    repository: Repository, digest: str, annotations: tuple[tuple[str, str], ...]
) -> Manifest:
    return Manifest(
        repository_id=repository.id,
        digest=digest,
        media_type="application/vnd.oci.image.manifest.v1+json",
        size=3,
        body=b"{}\x00",
        pushed_at=AT.astimezone(timezone(timedelta(hours=5))),
        artifact_type=None,
        subject=None,
        config_digest=CONFIG,
        annotations=annotations,
    )


def _row_values(path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(query).fetchall()


async def test_a_manifest_put_goes_direct_and_reads_back_as_written(
    store: SqlMetaStore, tmp_path: Path
) -> None:
    repository = await _repository(store)
    manifest = _manifest(repository, "sha256:" + "a" * 64, (("k", "v\x00w"), ("é", "ü")))
    references = [
        Reference(LAYER, ReferenceKind.BLOB, 10),
        Reference(CONFIG, ReferenceKind.BLOB, 10),
    ]
    async with store.transaction() as tx:
        assert await tx.manifests.put(manifest, references) is True
        assert await tx.manifests.put(manifest, references) is False  # ON CONFLICT DO NOTHING
        await tx.tags.put(repository.id, "v1\x00", manifest.digest, AT)
        conn = tx.tags._conn
        assert isinstance(conn, InlineConnection)
        values = {"repository_id": repository.id, "digest": manifest.digest, "updated_at": AT}
        conn.sync.execute(sqlite.insert(tags), {**values, "name": "v2\x00"})  # SQLAlchemy's way
    async with store.read() as tx:
        found = await tx.manifests.get(repository.id, manifest.digest)
        tag = await tx.tags.get(repository.id, "v1\x00")
        children = await tx.manifests.references(repository.id, manifest.digest)
    assert found is not None and tag is not None
    assert found.pushed_at == AT and found.pushed_at.tzinfo == UTC
    assert found.body == b"{}\x00"
    assert dict(found.annotations) == {"k": "v\x00w", "é": "ü"}  # JSON escapes it
    assert tag.digest == manifest.digest and tag.updated_at == AT
    assert sorted(child.digest for child in children) == [LAYER, CONFIG]
    # the same text SQLAlchemy itself stores for a timestamp, so both paths compare alike
    # stored as SQLAlchemy stores them: the same timestamp text, NUL as U+FFFD (as PostgreSQL)
    query = "SELECT name, updated_at FROM tags ORDER BY name"
    stored = _row_values(tmp_path / "berth.db", query)
    when = "2026-11-27 10:00:00.123456"
    assert stored == [("v1\ufffd", when), ("v2\ufffd", when)]
    assert _row_values(tmp_path / "berth.db", "SELECT pushed_at FROM manifests") == [(when,)]


async def test_the_put_path_statements_really_take_the_direct_path(store: SqlMetaStore) -> None:
    repository = await _repository(store)
    async with store.transaction() as tx:
        conn = tx.manifests._conn
        assert isinstance(conn, InlineConnection)
        values = {
            "repository_id": repository.id,
            "name": "direct",
            "digest": "sha256:" + "b" * 64,
            "updated_at": AT,
        }
        upsert = sqlite.insert(tags).on_conflict_do_nothing()
        assert insert_directly(conn.sync, upsert, values) is not None
        done = insert_directly(conn.sync, upsert, values)
        assert done is not None and done.rowcount == 0 and done.first() is None


async def test_a_direct_insert_is_seen_by_caches_of_its_table(store: SqlMetaStore) -> None:
    repository = await _repository(store)
    before = store.generation(("tags",))
    untouched = store.generation(("manifests",))
    async with store.transaction() as tx:
        await tx.tags.put(repository.id, "v1", "sha256:" + "c" * 64, AT)
    assert store.generation(("tags",)) != before
    assert store.generation(("manifests",)) == untouched


async def test_a_failed_direct_insert_raises_sqlalchemy_errors_and_rolls_back_alone(
    store: SqlMetaStore,
) -> None:
    repository = await _repository(store)
    manifest = _manifest(repository, "sha256:" + "d" * 64, ())
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        async with store.transaction() as tx:
            await tx.manifests.put(manifest, [])
            conn = tx.manifests._conn
            assert isinstance(conn, InlineConnection)
            orphan = {
                "repository_id": repository.id,
                "manifest_digest": "sha256:" + "e" * 64,
                "child_digest": LAYER,
                "kind": "blob",
                "size": 1,
            }
            await conn.insert(manifest_references.insert(), [orphan])
    async with store.read() as tx:
        assert await tx.manifests.get(repository.id, manifest.digest) is None


async def test_what_it_cannot_do_as_sqlalchemy_would_goes_the_usual_way(
    store: SqlMetaStore,
) -> None:
    table = Table(
        "direct_defaults",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String, nullable=False),
        Column("kind", String, nullable=False, default="plain"),
        Column("at", DateTime),
    )
    async with store.transaction() as tx:
        conn = tx.manifests._conn
        assert isinstance(conn, InlineConnection)
        conn.sync.exec_driver_sql(
            "CREATE TABLE direct_defaults (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "kind TEXT NOT NULL, at DATETIME)"
        )
        statement = table.insert()
        # a column default to fill in: SQLAlchemy's job
        assert insert_directly(conn.sync, statement, {"id": 1, "name": "a"}) is None
        await conn.insert(statement, {"id": 1, "name": "a"})
        # rows naming different columns in one executemany (SQLAlchemy refuses those itself)
        mixed = [{"id": 2, "name": "b", "kind": "x"}, {"id": 3, "name": "c"}]
        assert insert_directly(conn.sync, statement, mixed) is None
        rows = [{"id": 2, "name": "b", "kind": "x"}, {"id": 3, "name": "c", "kind": "y"}]
        assert insert_directly(conn.sync, statement, rows) is not None
        # a returned timestamp to convert
        returning = table.insert().returning(table.c.at)
        values = {"id": 4, "name": "d", "kind": "z", "at": AT.replace(tzinfo=None)}
        assert insert_directly(conn.sync, returning, values) is None
        assert (await conn.insert(returning, values)).first() == (AT.replace(tzinfo=None),)
        found = conn.sync.execute(select(table.c.kind).order_by(table.c.id)).scalars().all()
    assert found == ["plain", "x", "y", "z"]
