"""BlobIndex over SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from berth.meta.base import Blob
from berth.meta.schema import blobs, manifest_references, repository_blobs
from berth.meta.sql_common import AnyRow, InsertFactory

__all__ = ["SqlBlobIndex"]

_b = blobs
_links = repository_blobs
_columns = (_b.c.digest, _b.c.size, _b.c.created_at)


def _blob(row: AnyRow) -> Blob:
    return Blob(digest=row.digest, size=row.size, created_at=row.created_at)


class SqlBlobIndex:
    def __init__(self, conn: AsyncConnection, insert: InsertFactory) -> None:
        self._conn = conn
        self._insert = insert

    async def get(self, digest: str) -> Blob | None:
        row = (await self._conn.execute(select(*_columns).where(_b.c.digest == digest))).first()
        return None if row is None else _blob(row)

    async def put(self, digest: str, size: int, at: datetime) -> Blob:
        statement = (
            self._insert(_b)
            .values(digest=digest, size=size, created_at=at)
            .on_conflict_do_nothing(index_elements=[_b.c.digest])
            .returning(*_columns)
        )
        row = (await self._conn.execute(statement)).first()
        if row is not None:
            return _blob(row)
        known = await self.get(digest)
        assert known is not None
        return known

    async def link(self, repository_id: int, digest: str) -> None:
        statement = (
            self._insert(_links)
            .values(repository_id=repository_id, digest=digest)
            .on_conflict_do_nothing(index_elements=[_links.c.repository_id, _links.c.digest])
        )
        await self._conn.execute(statement)

    async def get_linked(self, repository_id: int, digest: str) -> Blob | None:
        query = (
            select(*_columns)
            .join(_links, _links.c.digest == _b.c.digest)
            .where(_links.c.repository_id == repository_id, _links.c.digest == digest)
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _blob(row)

    async def linked(self, repository_id: int, digests: Sequence[str]) -> set[str]:
        if not digests:
            return set()
        query = (
            select(_b.c.digest)
            .join(_links, _links.c.digest == _b.c.digest)
            .where(_links.c.repository_id == repository_id, _links.c.digest.in_(set(digests)))
        )
        return set((await self._conn.execute(query)).scalars())

    async def unlink(self, repository_id: int, digest: str) -> bool:
        statement = _links.delete().where(
            _links.c.repository_id == repository_id, _links.c.digest == digest
        )
        return (await self._conn.execute(statement)).rowcount > 0

    async def unreferenced(self, created_before: datetime, limit: int) -> list[Blob]:
        linked = exists().where(_links.c.digest == _b.c.digest)
        referenced = exists().where(manifest_references.c.child_digest == _b.c.digest)
        query = (
            select(*_columns)
            .where(_b.c.created_at < created_before, ~linked, ~referenced)
            .order_by(_b.c.created_at, _b.c.digest)
            .limit(limit)
        )
        return [_blob(row) for row in await self._conn.execute(query)]

    async def delete(self, digest: str) -> None:
        await self._conn.execute(_links.delete().where(_links.c.digest == digest))
        await self._conn.execute(_b.delete().where(_b.c.digest == digest))
