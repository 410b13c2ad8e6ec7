"""What the unit tests share: a fresh SQLite metadata store per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from berth.meta.sql import SqlMetaStore, open_meta_store


@pytest.fixture
async def sqlite_meta(tmp_path: Path) -> AsyncIterator[SqlMetaStore]:
    store = await open_meta_store(f"sqlite:///{tmp_path / 'berth.db'}")
    try:
        yield store
    finally:
        await store.close()
