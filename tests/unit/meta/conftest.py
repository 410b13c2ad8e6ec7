"""What the metadata-store tests share: a fresh SQLite store per test, its internals reachable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from berth.meta.sql import SqlMetaStore, open_meta_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlMetaStore]:
    meta = await open_meta_store(f"sqlite:///{tmp_path}/berth.db")
    try:
        yield meta
    finally:
        await meta.close()
