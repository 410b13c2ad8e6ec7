"""What the metadata-store tests share: the SQLite store (``tests/unit/conftest.py``), its
internals reachable."""

from __future__ import annotations

import pytest

from berth.meta.sql import SqlMetaStore


@pytest.fixture
def store(sqlite_meta: SqlMetaStore) -> SqlMetaStore:
    return sqlite_meta
