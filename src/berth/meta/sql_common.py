"""What the per-aggregate SQL stores share: the dialect's INSERT (chosen in ``sql.py``), and text
matching that means the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeAlias, TypeVar, TypeVarTuple, overload

from sqlalchemy import ColumnElement, CursorResult, Executable, Row, ScalarResult, Table, and_, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import dml
from sqlalchemy.sql.selectable import TypedReturnsRows

from berth.meta.sql_direct import InsertResult, Parameters
from berth.meta.sqlite_writer import InlineConnection

__all__ = [
    "AnyRow",
    "Insert",
    "InsertFactory",
    "SqlConnection",
    "contains_any_case",
    "run_insert",
    "starts_with",
]

Insert: TypeAlias = sqlite.Insert | postgresql.Insert
"""An INSERT with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` (same API on both)."""

InsertFactory: TypeAlias = Callable[[Table], Insert]

AnyRow: TypeAlias = Row[*tuple[Any, ...]]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


class SqlConnection(Protocol):
    """What the stores run statements on: an ``AsyncConnection``, or SQLite's inline writer."""

    @overload
    async def execute(  # type: ignore[overload-overlap]  # as AsyncConnection.execute's own
        self, statement: TypedReturnsRows[*_Ts], parameters: Any = None
    ) -> CursorResult[*_Ts]: ...

    @overload
    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]: ...

    @overload
    async def scalar(
        self, statement: TypedReturnsRows[_T], parameters: Any = None
    ) -> _T | None: ...

    @overload
    async def scalar(self, statement: Executable, parameters: Any = None) -> Any: ...

    async def scalars(self, statement: Executable, parameters: Any = None) -> ScalarResult[Any]: ...


async def run_insert(
    conn: SqlConnection, statement: dml.Insert, parameters: Parameters
) -> InsertResult:
    """Run an INSERT a hot path makes; on SQLite's writer, straight through the driver.

    ``statement`` should be built once (a module constant or ``@cache``d) and ``parameters``
    should name every column it binds: see ``sql_direct``.
    """
    if isinstance(conn, InlineConnection):
        return await conn.insert(statement, parameters)
    return await conn.execute(statement, parameters)


def starts_with(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """``column`` begins with ``prefix``, case and all, on both databases.

    SQLite's LIKE ignores ASCII case and PostgreSQL's does not; the LIKE narrows the search (and
    can use an index on PostgreSQL), the comparison of the first characters makes it exact.
    """
    return and_(
        column.startswith(prefix, autoescape=True),
        func.substr(column, 1, len(prefix)) == prefix,
    )


def contains_any_case(column: ColumnElement[str], text: str) -> ColumnElement[bool]:
    """``column`` contains ``text``, ignoring case, on both databases (a search box's match)."""
    return column.icontains(text, autoescape=True)
