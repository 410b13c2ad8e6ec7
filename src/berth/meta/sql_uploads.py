"""UploadStore and SettingStore over SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from berth.meta.base import Upload
from berth.meta.schema import settings, uploads
from berth.meta.sql_common import AnyRow, InsertFactory, SqlConnection

__all__ = ["SqlSettingStore", "SqlUploadStore"]

_u = uploads
_s = settings
_IN_BATCH = 500


def _upload(row: AnyRow) -> Upload:
    return Upload(
        id=row.id,
        repository_id=row.repository_id,
        size=row.size,
        backend=row.backend,
        started_at=row.started_at,
        updated_at=row.updated_at,
        extra=row.extra,
    )


class SqlUploadStore:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def create(self, upload: Upload) -> None:
        await self._conn.execute(
            _u.insert().values(
                id=upload.id,
                repository_id=upload.repository_id,
                size=upload.size,
                backend=upload.backend,
                extra=upload.extra,
                started_at=upload.started_at,
                updated_at=upload.updated_at,
            )
        )

    async def get(self, upload_id: str) -> Upload | None:
        row = (await self._conn.execute(select(_u).where(_u.c.id == upload_id))).first()
        return None if row is None else _upload(row)

    async def update(
        self, upload_id: str, size: int, backend: dict[str, Any], at: datetime
    ) -> None:
        await self._conn.execute(
            _u.update()
            .where(_u.c.id == upload_id)
            .values(size=size, backend=backend, updated_at=at)
        )

    async def advance(
        self, upload_id: str, from_size: int, size: int, backend: dict[str, Any], at: datetime
    ) -> bool:
        result = await self._conn.execute(
            _u.update()
            .where(_u.c.id == upload_id, _u.c.size == from_size)
            .values(size=size, backend=backend, updated_at=at)
        )
        return bool(result.rowcount)

    async def delete(self, upload_id: str) -> None:
        await self._conn.execute(_u.delete().where(_u.c.id == upload_id))

    async def expired(self, updated_before: datetime, limit: int) -> list[Upload]:
        query = (
            select(_u)
            .where(_u.c.updated_at < updated_before)
            .order_by(_u.c.updated_at, _u.c.id)
            .limit(limit)
        )
        return [_upload(row) for row in await self._conn.execute(query)]

    async def delete_if_idle(self, upload_id: str, updated_before: datetime) -> bool:
        statement = _u.delete().where(_u.c.id == upload_id, _u.c.updated_at < updated_before)
        return (await self._conn.execute(statement)).rowcount > 0

    async def count(self) -> int:
        return int((await self._conn.execute(select(func.count()).select_from(_u))).scalar_one())

    async def existing(self, upload_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(upload_ids), _IN_BATCH):
            batch = list(upload_ids[start : start + _IN_BATCH])
            found.update(await self._conn.scalars(select(_u.c.id).where(_u.c.id.in_(batch))))
        return found


class SqlSettingStore:
    def __init__(self, conn: SqlConnection, insert: InsertFactory) -> None:
        self._conn = conn
        self._insert = insert

    async def get(self, key: str) -> Any | None:
        return (await self._conn.execute(select(_s.c.value).where(_s.c.key == key))).scalar()

    async def put(self, key: str, value: Any) -> None:
        statement = self._insert(_s).values(key=key, value=value)
        statement = statement.on_conflict_do_update(
            index_elements=[_s.c.key], set_={"value": statement.excluded.value}
        )
        await self._conn.execute(statement)

    async def put_if_absent(self, key: str, value: Any) -> Any:
        statement = (
            self._insert(_s)
            .values(key=key, value=value)
            .on_conflict_do_nothing(index_elements=[_s.c.key])
            .returning(_s.c.key)
        )
        if (await self._conn.execute(statement)).first() is not None:
            return value
        return await self.get(key)

    async def delete(self, key: str) -> None:
        await self._conn.execute(_s.delete().where(_s.c.key == key))
