"""What the service tests share: a fresh SQLite metadata store per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from berth.meta.base import MetaStore
from berth.meta.sql import open_meta_store


@pytest.fixture
async def meta(tmp_path: Path) -> AsyncIterator[MetaStore]:
    store = await open_meta_store(f"sqlite:///{tmp_path / 'berth.db'}")
    try:
        yield store
    finally:
        await store.close()
