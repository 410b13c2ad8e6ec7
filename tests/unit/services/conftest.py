"""What the service tests share: the SQLite metadata store (``tests/unit/conftest.py``)."""

from __future__ import annotations

import pytest

from berth.meta.base import MetaStore
from berth.meta.sql import SqlMetaStore


@pytest.fixture
def meta(sqlite_meta: SqlMetaStore) -> MetaStore:
    return sqlite_meta
