"""What the per-aggregate SQL stores share: the dialect's INSERT (chosen in ``sql.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from sqlalchemy import Row, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["AnyRow", "Insert", "InsertFactory"]

Insert: TypeAlias = sqlite.Insert | postgresql.Insert
"""An INSERT with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` (same API on both)."""

InsertFactory: TypeAlias = Callable[[Table], Insert]

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
