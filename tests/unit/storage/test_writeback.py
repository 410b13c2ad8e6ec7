from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from berth.storage import writeback
from berth.storage.writeback import drop_cached, start_writeback, write_behind
from pagecache import require_droppable_cache, resident_bytes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_starts_writeback_of_a_written_range(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"x" * 65536)
    fd = os.open(path, os.O_WRONLY)
    try:
        assert start_writeback(fd, 0, 65536)
    finally:
        os.close(fd)


def test_a_range_it_cannot_write_back_is_only_reported() -> None:
    read, write = os.pipe()
    try:
        assert not start_writeback(write, 0, 4096)
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


def test_a_range_written_behind_is_on_disk_and_out_of_the_page_cache(tmp_path: Path) -> None:
    require_droppable_cache(tmp_path)
    path = tmp_path / "data"
    path.write_bytes(b"x" * (1 << 20))
    fd = os.open(path, os.O_WRONLY)
    try:
        assert write_behind(fd, 0, 1 << 20)
    finally:
        os.close(fd)
    assert resident_bytes(path) == 0
    assert path.read_bytes() == b"x" * (1 << 20)


def test_dropping_a_synced_file_leaves_it_readable(tmp_path: Path) -> None:
    require_droppable_cache(tmp_path)
    path = tmp_path / "data"
    path.write_bytes(b"y" * 65536)
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
        assert drop_cached(fd, 0, 65536)
    finally:
        os.close(fd)
    assert resident_bytes(path) == 0
    assert path.read_bytes() == b"y" * 65536


def test_what_cannot_be_dropped_is_only_reported(tmp_path: Path) -> None:
    read, write = os.pipe()
    try:
        assert not drop_cached(write, 0, 4096)
        assert not write_behind(write, 0, 4096)
    finally:
        os.close(read)
        os.close(write)
    fd = os.open(tmp_path / "empty", os.O_WRONLY | os.O_CREAT)
    try:
        assert not drop_cached(fd, 0, 0)
        assert not write_behind(fd, 0, 0)
    finally:
        os.close(fd)


def test_without_sync_file_range_nothing_is_written_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writeback, "_sync_file_range", lambda: None)
    path = tmp_path / "data"
    path.write_bytes(b"kept")
    fd = os.open(path, os.O_WRONLY)
    try:
        assert not write_behind(fd, 0, 4)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"kept"
