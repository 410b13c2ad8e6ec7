"""INSERTs on SQLite's writer connection, sent straight to the driver.

A manifest PUT runs three INSERTs (the manifest, its references, the tag). SQLAlchemy spends
about 50 microseconds on each before and after ``sqlite3`` runs it: the statement cache lookup,
an execution context, the events, a result object. SQLite itself takes 10-20. For an INSERT whose
parameters name every column it binds, none of that work changes from one call to the next, so
it is done once: the SQL text, the order of the bound names and each column type's bind
processor (``UtcDateTime``, ``JsonText``) are kept, and later calls only convert the values and
call the driver, which makes a PUT about a fifth cheaper (docs/performance.md).

What SQLAlchemy's per-statement events do on the writer's engine is done here too: the tables
written are noted (``sql_written``) and NUL in a bound string becomes U+FFFD. Driver errors come
out as SQLAlchemy's own exceptions, as from ``Connection.execute``. Anything this cannot do as
SQLAlchemy would (a column default to fill in, a returned value to convert, an expanding IN)
goes through ``Connection.execute`` unchanged.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Insert

from berth.meta.sql_written import note_written

__all__ = ["InsertResult", "insert_directly", "without_nul"]

_NUL, _REPLACEMENT = "\x00", "\ufffd"

Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class InsertResult(Protocol):
    """What the stores read from an INSERT: its first returned row, and the rows it wrote."""

    @property
    def rowcount(self) -> int: ...

    def first(self) -> Any: ...


def without_nul(parameters: Any) -> Any:
    """Bound parameters with NUL in a string replaced (PostgreSQL's text cannot hold NUL)."""
    if isinstance(parameters, dict):
        if any(isinstance(v, str) and _NUL in v for v in parameters.values()):
            return {k: _clean(v) for k, v in parameters.items()}
        return parameters
    if isinstance(parameters, tuple | list) and any(
        isinstance(v, str) and _NUL in v for v in parameters
    ):
        return type(parameters)(_clean(v) for v in parameters)
    return parameters


def _clean(value: Any) -> Any:
    return value.replace(_NUL, _REPLACEMENT) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class _DirectResult:
    rows: list[Any]
    rowcount: int

    def first(self) -> Any:
        return self.rows[0] if self.rows else None


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One INSERT for one set of parameter names, compiled for SQLite."""

    statement: Insert
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    row: Callable[..., Any] | None

    def values(self, parameters: Mapping[str, Any]) -> tuple[Any, ...]:
        bound = tuple(
            value if process is None else process(value)
            for value, process in zip(
                (parameters[name] for name in self.names), self.processors, strict=True
            )
        )
        return without_nul(bound)  # type: ignore[no-any-return]

    def run(self, conn: Connection, parameters: Parameters) -> InsertResult:
        note_written(conn.info, self.statement)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if isinstance(parameters, Mapping):
                values: Any = self.values(parameters)
                cursor.execute(self.sql, values)
                fetched = cursor.fetchall() if self.row is not None else []
                rows = [self.row(*found) for found in fetched] if self.row is not None else []
                return _DirectResult(rows, cursor.rowcount)
            values = [self.values(one) for one in parameters]
            cursor.executemany(self.sql, values)
            return _DirectResult([], cursor.rowcount)
        except sqlite3.Error as error:
            raise DBAPIError.instance(
                self.sql, values, error, sqlite3.Error, dialect=conn.dialect
            ) from error
        finally:
            cursor.close()


def _compile(statement: Insert, dialect: Dialect, keys: frozenset[str]) -> _Compiled | None:
    """The direct form of ``statement`` for parameters named ``keys``; None if there is none."""
    compiled: Any = statement.compile(dialect=dialect, column_keys=sorted(keys))
    names = tuple(compiled.positiontup or ())
    if compiled.post_compile_params or not set(names) <= keys:
        return None  # an expanding IN, or a column default SQLAlchemy would fill in
    returning = list(compiled.effective_returning or ())
    if any(
        column.type.dialect_impl(dialect).result_processor(dialect, None) is not None
        for column in returning
    ):
        return None
    row = namedtuple("row", [column.key for column in returning]) if returning else None
    processors = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    return _Compiled(statement, compiled.string, names, processors, row)


_compiled: WeakKeyDictionary[Insert, dict[frozenset[str], _Compiled | None]] = WeakKeyDictionary()


def insert_directly(
    conn: Connection, statement: Insert, parameters: Parameters
) -> InsertResult | None:
    """Run ``statement`` on ``conn``'s ``sqlite3`` connection; None if it must go the usual way.

    Built once per statement object and set of parameter names, so a statement made afresh on
    each call gains nothing: the hot ones are module constants or built once (``@cache``).
    """
    first = (
        parameters if isinstance(parameters, Mapping) else (parameters[0] if parameters else None)
    )
    if first is None or not isinstance(first, Mapping):
        return None
    keys = frozenset(first)
    forms = _compiled.setdefault(statement, {})
    if keys not in forms:
        forms[keys] = _compile(statement, conn.dialect, keys)
    compiled = forms[keys]
    if compiled is None:
        return None
    if not isinstance(parameters, Mapping) and any(frozenset(one) != keys for one in parameters):
        return None
    return compiled.run(conn, parameters)
