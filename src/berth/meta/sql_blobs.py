"""BlobIndex over SQL.

Row locks (``FOR SHARE`` / ``FOR UPDATE``) are PostgreSQL's; SQLite ignores them, and needs none,
because its writers are serialised whole (``BEGIN IMMEDIATE``). The collector locks a row before
it re-checks what refers to it, and reads in a statement of its own after the lock: under READ
COMMITTED each statement sees what was committed before it began, so a push that committed while
the collector waited for the lock is seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Exists, Select, bindparam, exists, select, tuple_

from berth.meta.base import Blob, BlobLink
from berth.meta.schema import blobs, manifest_references, repository_blobs
from berth.meta.sql_common import AnyRow, InsertFactory, SqlConnection

__all__ = ["SqlBlobIndex"]

_b = blobs
_links = repository_blobs
_refs = manifest_references
_columns = (_b.c.digest, _b.c.size, _b.c.created_at)
_PUT_ATTEMPTS = 5
_PIN_ALL_LINKED = (
    select(_b.c.digest)
    .join(_links, _links.c.digest == _b.c.digest)
    .where(
        _links.c.repository_id == bindparam("repository_id"),
        _links.c.digest.in_(bindparam("digests", expanding=True)),
    )
    .with_for_update(read=True, of=_links)
)
_IN_BATCH = 500


def _blob(row: AnyRow) -> Blob:
    return Blob(digest=row.digest, size=row.size, created_at=row.created_at)


class SqlBlobIndex:
    def __init__(self, conn: SqlConnection, insert: InsertFactory) -> None:
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
        for _ in range(_PUT_ATTEMPTS):
            row = (await self._conn.execute(statement)).first()
            if row is not None:
                return _blob(row)
            known = await self.pin(digest)
            if known is not None:
                return known
        raise RuntimeError(f"blob {digest} was deleted {_PUT_ATTEMPTS} times while recorded")

    async def pin(self, digest: str) -> Blob | None:
        query = select(*_columns).where(_b.c.digest == digest).with_for_update(read=True)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _blob(row)

    async def link(self, repository_id: int, digest: str, at: datetime | None = None) -> None:
        when = at or datetime.now(UTC)
        statement = (
            self._insert(_links)
            .values(repository_id=repository_id, digest=digest, linked_at=when)
            .on_conflict_do_update(
                index_elements=[_links.c.repository_id, _links.c.digest],
                set_={"linked_at": when},
            )
        )
        await self._conn.execute(statement)

    async def get_linked(self, repository_id: int, digest: str) -> Blob | None:
        link = await self.get_link(repository_id, digest)
        return None if link is None else link.blob

    async def get_link(self, repository_id: int, digest: str) -> BlobLink | None:
        query = _linked(repository_id, digest).add_columns(_links.c.linked_at)
        row = (await self._conn.execute(query)).first()
        return None if row is None else BlobLink(_blob(row), row.linked_at)

    async def refresh_link(self, repository_id: int, digest: str, at: datetime) -> bool:
        statement = (
            _links.update()
            .where(_links.c.repository_id == repository_id, _links.c.digest == digest)
            .values(linked_at=at)
        )
        return (await self._conn.execute(statement)).rowcount > 0

    async def pin_linked(self, repository_id: int, digest: str) -> Blob | None:
        query = _linked(repository_id, digest).with_for_update(read=True, of=_links)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _blob(row)

    async def pin_all_linked(self, repository_id: int, digests: Sequence[str]) -> set[str]:
        if not digests:
            return set()
        wanted = {"repository_id": repository_id, "digests": sorted(set(digests))}
        return set((await self._conn.execute(_PIN_ALL_LINKED, wanted)).scalars())

    async def unlink(self, repository_id: int, digest: str) -> bool:
        statement = _links.delete().where(
            _links.c.repository_id == repository_id, _links.c.digest == digest
        )
        return (await self._conn.execute(statement)).rowcount > 0

    async def stale_links(
        self, linked_before: datetime, limit: int, after: tuple[int, str] | None = None
    ) -> list[tuple[int, str]]:
        query = (
            select(_links.c.repository_id, _links.c.digest)
            .where(_links.c.linked_at < linked_before, ~_referenced_in_repository())
            .order_by(_links.c.repository_id, _links.c.digest)
            .limit(limit)
        )
        if after is not None:
            query = query.where(tuple_(_links.c.repository_id, _links.c.digest) > tuple_(*after))
        return [(row.repository_id, row.digest) for row in await self._conn.execute(query)]

    async def drop_stale_link(
        self, repository_id: int, digest: str, linked_before: datetime
    ) -> bool:
        where = (_links.c.repository_id == repository_id, _links.c.digest == digest)
        locked = select(_links.c.digest).where(*where, _links.c.linked_at < linked_before)
        if (await self._conn.execute(locked.with_for_update())).first() is None:
            return False
        referenced = select(
            exists().where(_refs.c.repository_id == repository_id, _refs.c.child_digest == digest)
        )
        if (await self._conn.execute(referenced)).scalar():
            return False
        return (await self._conn.execute(_links.delete().where(*where))).rowcount > 0

    async def unreferenced(self, created_before: datetime, limit: int) -> list[Blob]:
        query = (
            select(*_columns)
            .where(_b.c.created_at < created_before, ~_linked_anywhere(), ~_referenced_anywhere())
            .order_by(_b.c.created_at, _b.c.digest)
            .limit(limit)
        )
        return [_blob(row) for row in await self._conn.execute(query)]

    async def claim_unreferenced(self, digest: str, created_before: datetime) -> Blob | None:
        locked = (
            select(*_columns)
            .where(_b.c.digest == digest, _b.c.created_at < created_before)
            .with_for_update()
        )
        row = (await self._conn.execute(locked)).first()
        if row is None:
            return None
        still_free = select(~exists().where(_links.c.digest == digest)).where(
            ~exists().where(_refs.c.child_digest == digest)
        )
        return _blob(row) if (await self._conn.execute(still_free)).scalar() else None

    async def missing(self, digests: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(digests), _IN_BATCH):
            batch = list(digests[start : start + _IN_BATCH])
            query = select(_b.c.digest).where(_b.c.digest.in_(batch))
            found.update(await self._conn.scalars(query))
        return set(digests) - found

    async def delete(self, digest: str) -> None:
        await self._conn.execute(_links.delete().where(_links.c.digest == digest))
        await self._conn.execute(_b.delete().where(_b.c.digest == digest))


def _linked(repository_id: int, digest: str) -> Select[str, int, datetime]:
    return (
        select(*_columns)
        .join(_links, _links.c.digest == _b.c.digest)
        .where(_links.c.repository_id == repository_id, _links.c.digest == digest)
    )


def _referenced_in_repository() -> Exists:
    return exists().where(
        _refs.c.repository_id == _links.c.repository_id, _refs.c.child_digest == _links.c.digest
    )


def _linked_anywhere() -> Exists:
    return exists().where(_links.c.digest == _b.c.digest)


def _referenced_anywhere() -> Exists:
    return exists().where(_refs.c.child_digest == _b.c.digest)
