"""Which tables a transaction wrote, so its commit bumps only their write generations.

Every statement a connection runs is looked at before it runs: an INSERT, UPDATE or DELETE names
its table (a DELETE also the tables its ``ON DELETE`` foreign keys reach); a SELECT, a savepoint
or transaction control writes nothing; anything else (DDL, SQL text we cannot read) counts as a
write to every table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Delete, Engine, Table, TextClause, event
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.expression import (
    ReleaseSavepointClause,
    RollbackToSavepointClause,
    SavepointClause,
)

from berth.meta.generation import slots_of
from berth.meta.schema import metadata

__all__ = ["note_written", "take_written", "track_writes"]

_KEY = "berth.written"
_EVERY_TABLE = "*"
_READS = frozenset({"SELECT", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})
_TRANSACTION_CONTROL = (SavepointClause, RollbackToSavepointClause, ReleaseSavepointClause)


def _cascades() -> dict[str, frozenset[str]]:
    """Each table, and every table a DELETE from it may also change through foreign keys."""
    children: dict[str, set[str]] = {name: set() for name in metadata.tables}
    for table in metadata.tables.values():
        for key in table.foreign_key_constraints:
            if key.ondelete and key.referred_table.name in children:
                children[key.referred_table.name].add(table.name)

    def reach(name: str, seen: set[str]) -> set[str]:
        for child in children.get(name, ()):
            if child not in seen:
                seen.add(child)
                reach(child, seen)
        return seen

    return {name: frozenset(reach(name, {name})) for name in children}


_DELETES_REACH = _cascades()


def track_writes(engine: Engine) -> None:
    """Note on each connection of ``engine`` the tables its statements write."""

    @event.listens_for(engine, "before_execute")
    def note(conn: Connection, statement: Any, *_args: Any) -> None:
        note_written(conn.info, statement)


def note_written(info: dict[Any, Any], statement: Any) -> None:
    """Note in a connection's ``info`` the tables ``statement`` writes (``sql_direct`` calls
    this itself: its statements bypass the engine's events)."""
    written = _written_by(statement)
    if written:
        info.setdefault(_KEY, set()).update(written)


def take_written(info: dict[Any, Any]) -> tuple[int, ...]:
    """The generation slots to bump for what the connection whose ``info`` this is wrote since
    the last call; forgets them."""
    written: set[str] = info.pop(_KEY, set())
    if _EVERY_TABLE in written:
        return slots_of(None)
    return slots_of(written) if written else ()


def _written_by(statement: Any) -> Iterable[str]:
    if isinstance(statement, UpdateBase):
        table = getattr(statement, "table", None)
        if not isinstance(table, Table):
            return (_EVERY_TABLE,)
        if isinstance(statement, Delete):
            return _DELETES_REACH.get(table.name, (table.name,))
        return (table.name,)
    if getattr(statement, "is_select", False) or isinstance(statement, _TRANSACTION_CONTROL):
        return ()
    if isinstance(statement, TextClause):
        statement = statement.text
    if isinstance(statement, str):
        words = statement.split(None, 1)
        return () if words and words[0].upper() in _READS else (_EVERY_TABLE,)
    return (_EVERY_TABLE,)
