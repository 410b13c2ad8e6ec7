"""ManifestStore over SQL."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.sql.dml import ReturningInsert

from berth.meta.base import Manifest, Reference, ReferenceKind
from berth.meta.schema import manifest_references, manifests, tags
from berth.meta.sql_common import AnyRow, InsertFactory, SqlConnection, run_insert

__all__ = ["SqlManifestStore"]

_m = manifests
_refs = manifest_references
_GET = select(_m).where(
    _m.c.repository_id == bindparam("repository_id"), _m.c.digest == bindparam("digest")
)

_INSERT_REFERENCES = _refs.insert()


@cache
def _insert_new(insert: InsertFactory) -> ReturningInsert[str]:
    """Built once: a manifest PUT runs it (see ``sql_tags._upsert``)."""
    statement = insert(_m).on_conflict_do_nothing(index_elements=[_m.c.repository_id, _m.c.digest])
    return statement.returning(_m.c.digest)


def _manifest(row: AnyRow) -> Manifest:
    return Manifest(
        repository_id=row.repository_id,
        digest=row.digest,
        media_type=row.media_type,
        size=row.size,
        body=bytes(row.body),
        pushed_at=row.pushed_at,
        artifact_type=row.artifact_type,
        subject=row.subject,
        config_digest=row.config_digest,
        annotations=tuple(row.annotations.items()),
        last_pulled_at=row.last_pulled_at,
    )


def _reference_rows(manifest: Manifest, references: Sequence[Reference]) -> list[dict[str, Any]]:
    unique = {reference.digest: reference for reference in reversed(references)}
    return [
        {
            "repository_id": manifest.repository_id,
            "manifest_digest": manifest.digest,
            "child_digest": reference.digest,
            "kind": reference.kind.value,
            "size": reference.size,
        }
        for reference in unique.values()
    ]


class SqlManifestStore:
    def __init__(self, conn: SqlConnection, insert: InsertFactory) -> None:
        self._conn = conn
        self._insert = insert

    async def get(self, repository_id: int, digest: str) -> Manifest | None:
        found = await self._conn.execute(_GET, {"repository_id": repository_id, "digest": digest})
        row = found.first()
        return None if row is None else _manifest(row)

    async def put(self, manifest: Manifest, references: Sequence[Reference]) -> bool:
        values = {
            "repository_id": manifest.repository_id,
            "digest": manifest.digest,
            "media_type": manifest.media_type,
            "artifact_type": manifest.artifact_type,
            "size": manifest.size,
            "body": manifest.body,
            "subject": manifest.subject,
            "config_digest": manifest.config_digest,
            "annotations": dict(manifest.annotations),
            "pushed_at": manifest.pushed_at,
            "last_pulled_at": manifest.last_pulled_at,
        }
        if (await run_insert(self._conn, _insert_new(self._insert), values)).first() is None:
            return False
        rows = _reference_rows(manifest, references)
        if rows:
            await run_insert(self._conn, _INSERT_REFERENCES, rows)
        return True

    async def delete(self, repository_id: int, digest: str) -> bool:
        await self._conn.execute(
            tags.delete().where(tags.c.repository_id == repository_id, tags.c.digest == digest)
        )
        await self._conn.execute(
            _refs.delete().where(
                _refs.c.repository_id == repository_id, _refs.c.manifest_digest == digest
            )
        )
        statement = _m.delete().where(_m.c.repository_id == repository_id, _m.c.digest == digest)
        return (await self._conn.execute(statement)).rowcount > 0

    async def count(self, repository_id: int) -> int:
        query = select(func.count()).select_from(_m).where(_m.c.repository_id == repository_id)
        return (await self._conn.execute(query)).scalar_one()

    async def referrers(
        self, repository_id: int, subject: str, artifact_type: str | None = None
    ) -> builtins.list[Manifest]:
        query = (
            select(_m)
            .where(_m.c.repository_id == repository_id, _m.c.subject == subject)
            .order_by(_m.c.pushed_at, _m.c.digest)
        )
        if artifact_type is not None:
            query = query.where(_m.c.artifact_type == artifact_type)
        return [_manifest(row) for row in await self._conn.execute(query)]

    async def references(self, repository_id: int, digest: str) -> builtins.list[Reference]:
        query = (
            select(_refs.c.child_digest, _refs.c.kind, _refs.c.size)
            .where(_refs.c.repository_id == repository_id, _refs.c.manifest_digest == digest)
            .order_by(_refs.c.child_digest)
        )
        return [
            Reference(digest=row.child_digest, kind=ReferenceKind(row.kind), size=row.size)
            for row in await self._conn.execute(query)
        ]

    async def is_referenced(self, repository_id: int, digest: str) -> bool:
        query = (
            select(_refs.c.manifest_digest)
            .where(_refs.c.repository_id == repository_id, _refs.c.child_digest == digest)
            .limit(1)
        )
        return (await self._conn.execute(query)).first() is not None

    async def mark_pulled(self, repository_id: int, digest: str, at: datetime) -> None:
        statement = (
            _m.update()
            .where(
                _m.c.repository_id == repository_id,
                _m.c.digest == digest,
                or_(_m.c.last_pulled_at.is_(None), _m.c.last_pulled_at < at),
            )
            .values(last_pulled_at=at)
        )
        await self._conn.execute(statement)

    async def list(
        self, repository_id: int, after: str | None = None, limit: int | None = None
    ) -> builtins.list[Manifest]:
        query = (
            select(_m).where(_m.c.repository_id == repository_id).order_by(_m.c.digest).limit(limit)
        )
        if after is not None:
            query = query.where(_m.c.digest > after)
        return [_manifest(row) for row in await self._conn.execute(query)]
