"""TagStore over SQL."""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Text

from berth.meta.base import Tag
from berth.meta.schema import tags
from berth.meta.sql_common import Insert, InsertFactory, SqlConnection, run_insert

__all__ = ["SqlTagStore"]

_t = tags
_ONE = (_t.c.repository_id == bindparam("repository_id"), _t.c.name == bindparam("name"))
_GET = select(_t.c.digest, _t.c.updated_at).where(*_ONE)


@cache
def _upsert(insert: InsertFactory) -> Insert:
    """Built once: a manifest PUT runs it, and building an upsert costs more than running it."""
    statement = insert(_t)
    return statement.on_conflict_do_update(
        index_elements=[_t.c.repository_id, _t.c.name],
        set_={"digest": statement.excluded.digest, "updated_at": statement.excluded.updated_at},
    )


class _JsonArrayOf(FunctionElement[str]):
    """A JSON array of the column's values in one text value: ``json_group_array`` on SQLite,
    ``json_agg`` on PostgreSQL (NULL over no rows)."""

    type = Text()
    inherit_cache = True
    name = "json_array_of"

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)


@compiles(_JsonArrayOf, "sqlite")
def _json_group_array(element: _JsonArrayOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(_JsonArrayOf, "postgresql")
def _json_agg(element: _JsonArrayOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(json_agg({compiler.process(element.clauses, **kw)}) AS TEXT)"


@cache
def _list_query(paged: bool, limited: bool) -> Select[str | None]:
    """Built once per shape: building the subquery and its columns cost more than running it
    over 1,000 tags."""
    page = select(_t.c.name).where(_t.c.repository_id == bindparam("repository_id"))
    if paged:
        page = page.where(_t.c.name > bindparam("after"))
    page = page.order_by(_t.c.name)
    if limited:
        page = page.limit(bindparam("limit", type_=Integer))
    inner = page.subquery()
    return select(_JsonArrayOf(inner.c.name))


class SqlTagStore:
    def __init__(self, conn: SqlConnection, insert: InsertFactory) -> None:
        self._conn = conn
        self._insert = insert

    async def get(self, repository_id: int, name: str) -> Tag | None:
        found = await self._conn.execute(_GET, {"repository_id": repository_id, "name": name})
        row = found.first()
        return None if row is None else Tag(repository_id, name, row.digest, row.updated_at)

    async def put(self, repository_id: int, name: str, digest: str, at: datetime) -> None:
        values = {"repository_id": repository_id, "name": name, "digest": digest, "updated_at": at}
        await run_insert(self._conn, _upsert(self._insert), values)

    async def delete(self, repository_id: int, name: str) -> bool:
        statement = _t.delete().where(_t.c.repository_id == repository_id, _t.c.name == name)
        return (await self._conn.execute(statement)).rowcount > 0

    async def for_digest(self, repository_id: int, digest: str) -> builtins.list[str]:
        query = (
            select(_t.c.name)
            .where(_t.c.repository_id == repository_id, _t.c.digest == digest)
            .order_by(_t.c.name)
        )
        return list((await self._conn.execute(query)).scalars())

    async def for_digests(
        self, repository_id: int, digests: Sequence[str]
    ) -> dict[str, builtins.list[str]]:
        found: dict[str, builtins.list[str]] = {digest: [] for digest in digests}
        if not found:
            return found
        query = (
            select(_t.c.digest, _t.c.name)
            .where(_t.c.repository_id == repository_id, _t.c.digest.in_(list(found)))
            .order_by(_t.c.digest, _t.c.name)
        )
        for row in await self._conn.execute(query):
            found[row.digest].append(row.name)
        for names in found.values():
            names.sort()
        return found

    async def count(self, repository_id: int) -> int:
        query = select(func.count()).select_from(_t).where(_t.c.repository_id == repository_id)
        return (await self._conn.execute(query)).scalar_one()

    async def list(
        self, repository_id: int, after: str | None = None, limit: int | None = None
    ) -> builtins.list[str]:
        """The names in byte order (the column's collation on both databases, and Python's).

        One row of JSON rather than a row per tag: a read of 10,000 names took 5.1 ms as rows,
        most of it spent building them, and takes 1.9 ms as one value (docs/performance.md).
        The aggregates promise no order, so the page (chosen in order by the inner query) is
        sorted here: one pass, since it comes sorted.
        """
        query = _list_query(after is not None, limit is not None)
        values: dict[str, object] = {"repository_id": repository_id}
        if after is not None:
            values["after"] = after
        if limit is not None:
            values["limit"] = limit
        found = (await self._conn.execute(query, values)).scalar()
        names: builtins.list[str] = [] if found is None else json.loads(found)
        names.sort()
        return names
