"""Which tables a statement writes: DML names its table (a DELETE also what its foreign keys
cascade to), reads and transaction control write nothing, anything else writes every table."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from berth.meta.generation import slots_of
from berth.meta.schema import manifests, repositories, settings, tags
from berth.meta.sql_written import _written_by, take_written


@pytest.mark.parametrize(
    ("statement", "written"),
    [
        (tags.insert(), {"tags"}),
        (sqlite.insert(tags).on_conflict_do_nothing(), {"tags"}),
        (tags.update().values(digest="x"), {"tags"}),
        (settings.delete(), {"settings"}),
        (select(tags), set()),
        (text("SELECT 1"), set()),
        ("PRAGMA busy_timeout = 0", set()),
        ("BEGIN IMMEDIATE", set()),
        (text("DELETE FROM tags"), {"*"}),
        ("CREATE TABLE t (x int)", {"*"}),
    ],
)
def test_what_a_statement_writes(statement: Any, written: set[str]) -> None:
    assert set(_written_by(statement)) == written


def test_a_delete_reaches_what_its_foreign_keys_cascade_to() -> None:
    reached = set(_written_by(repositories.delete()))
    assert {"repositories", "manifests", "tags", "repository_blobs", "uploads"} <= reached
    assert set(_written_by(manifests.delete())) == {"manifests", "manifest_references"}


def test_taking_what_was_written_forgets_it() -> None:
    info: dict[Any, Any] = {"berth.written": {"tags"}}
    assert take_written(info) == slots_of(["tags"])
    assert take_written(info) == ()
    assert take_written({"berth.written": {"*"}}) == slots_of(None)
