"""SignInFailureStore over SQL: counters are held with ``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite needs no row lock, since its writers take turns (``BEGIN IMMEDIATE``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select

from berth.meta.base import SignInFailure
from berth.meta.schema import sign_in_failures
from berth.meta.sql_common import InsertFactory, SqlConnection

__all__ = ["SqlSignInFailureStore"]

_f = sign_in_failures


class SqlSignInFailureStore:
    def __init__(self, conn: SqlConnection, insert: InsertFactory) -> None:
        self._conn = conn
        self._insert = insert

    async def lock(self, keys: Sequence[str], at: datetime) -> dict[str, SignInFailure]:
        ordered = sorted(set(keys))
        if not ordered:
            return {}
        fresh = [
            {"key": key, "failures": 0, "last_at": at, "blocked_until": None} for key in ordered
        ]
        await self._conn.execute(
            self._insert(_f).values(fresh).on_conflict_do_nothing(index_elements=[_f.c.key])
        )
        query = select(_f).where(_f.c.key.in_(ordered)).order_by(_f.c.key).with_for_update()
        rows = await self._conn.execute(query)
        return {
            row.key: SignInFailure(row.key, row.failures, row.last_at, row.blocked_until)
            for row in rows
        }

    async def put(self, counters: Sequence[SignInFailure]) -> None:
        for counter in counters:
            await self._conn.execute(
                _f.update()
                .where(_f.c.key == counter.key)
                .values(
                    failures=counter.failures,
                    last_at=counter.last_at,
                    blocked_until=counter.blocked_until,
                )
            )

    async def delete(self, keys: Sequence[str]) -> None:
        if keys:
            await self._conn.execute(_f.delete().where(_f.c.key.in_(list(keys))))

    async def purge(self, idle_before: datetime) -> int:
        statement = _f.delete().where(
            _f.c.last_at < idle_before,
            or_(_f.c.blocked_until.is_(None), _f.c.blocked_until < idle_before),
        )
        return (await self._conn.execute(statement)).rowcount or 0
