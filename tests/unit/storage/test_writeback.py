from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from berth.storage import writeback
from berth.storage.writeback import start_writeback, wait_for_writeback


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
@pytest.mark.parametrize("write_back", [start_writeback, wait_for_writeback])
def test_a_written_range_is_written_back(
    tmp_path: Path, write_back: Callable[[int, int, int], bool]
) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"x" * 65536)
    fd = os.open(path, os.O_WRONLY)
    try:
        assert write_back(fd, 0, 65536)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"x" * 65536


def test_a_range_it_cannot_write_back_is_only_reported() -> None:
    read, write = os.pipe()
    try:
        assert not start_writeback(write, 0, 4096)
        assert not wait_for_writeback(write, 0, 4096)
    finally:
        os.close(read)
        os.close(write)


def test_nothing_to_write_back(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "empty", os.O_WRONLY | os.O_CREAT)
    try:
        assert not start_writeback(fd, 0, 0)
    finally:
        os.close(fd)


def test_without_sync_file_range_nothing_happens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writeback, "_sync_file_range", lambda: None)
    path = tmp_path / "data"
    path.write_bytes(b"kept")
    fd = os.open(path, os.O_WRONLY)
    try:
        assert not start_writeback(fd, 0, 4)
        assert not wait_for_writeback(fd, 0, 4)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"kept"


def test_other_platforms_have_no_sync_file_range(monkeypatch: pytest.MonkeyPatch) -> None:
    writeback._sync_file_range.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert writeback._sync_file_range() is None
    finally:
        writeback._sync_file_range.cache_clear()
