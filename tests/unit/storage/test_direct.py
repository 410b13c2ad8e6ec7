"""Direct appends: whole blocks through O_DIRECT, the ends through the file, and a way back."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from berth.storage import direct
from berth.storage.direct import BLOCK, STAGING_SIZE, DirectAppender, open_direct


def pattern(size: int, seed: int = 0) -> bytes:
    period = bytes((seed + i * 11) % 253 for i in range(253))
    return (period * (size // 253 + 1))[:size]


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.touch()
    fd = open_direct(path)
    if fd is None:
        pytest.skip(f"the filesystem under {tmp_path} has no O_DIRECT")
    os.close(fd)
    return path


def append(path: Path, pieces: list[bytes]) -> None:
    """What the store does: open both ways, append, finish, fsync."""
    fd = os.open(path, os.O_RDWR)
    direct_fd = open_direct(path)
    assert direct_fd is not None
    buffers = direct._StagingBuffers(keep=0)
    appender = DirectAppender(fd, direct_fd, path.stat().st_size, buffers.take())
    try:
        appender.write(pieces)
        appender.finish()
        os.fsync(fd)
    finally:
        buffers.give_back(appender.release())
        os.close(direct_fd)
        os.close(fd)


@pytest.fixture
def direct_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The length of every write through an O_DIRECT descriptor."""
    lengths: list[int] = []
    pwrite = os.pwrite

    def spy(fd: int, data: Any, offset: int) -> int:
        if fcntl_flags(fd) & os.O_DIRECT:
            lengths.append(len(data))
            assert offset % BLOCK == 0 and len(data) % BLOCK == 0
        return pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", spy)
    yield lengths


def fcntl_flags(fd: int) -> int:
    return fcntl.fcntl(fd, fcntl.F_GETFL)


def test_whole_blocks_go_direct_and_the_head_block_is_rewritten_whole(
    upload: Path, direct_writes: list[int]
) -> None:
    first = pattern(BLOCK + 100, 1)
    append(upload, [first])
    assert direct_writes == [BLOCK]  # the rest of the last block went the ordinary way
    second = pattern(STAGING_SIZE + 3 * BLOCK, 2)
    append(upload, [second[:70_000], second[70_000:]])
    assert upload.read_bytes() == first + second
    assert sum(direct_writes[1:]) == (len(first) + len(second)) // BLOCK * BLOCK - BLOCK


def test_a_refused_direct_write_sends_the_rest_the_ordinary_way(
    upload: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pwrite = os.pwrite
    refused: list[int] = []

    def no_direct(fd: int, data: Any, offset: int) -> int:
        if fcntl_flags(fd) & os.O_DIRECT:
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", no_direct)
    data = pattern(2 * STAGING_SIZE + 17)
    append(upload, [data])
    assert refused == [0]
    assert upload.read_bytes() == data


def test_a_short_direct_write_off_a_block_sends_the_rest_the_ordinary_way(
    upload: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pwrite = os.pwrite
    direct_calls: list[int] = []

    def short(fd: int, data: Any, offset: int) -> int:
        if fcntl_flags(fd) & os.O_DIRECT:
            direct_calls.append(offset)
            plain = os.open(upload, os.O_WRONLY)
            try:
                return pwrite(plain, data[: BLOCK + 1], offset)
            finally:
                os.close(plain)
        return pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", short)
    data = pattern(STAGING_SIZE + 5)
    append(upload, [data])
    assert direct_calls == [0]
    assert upload.read_bytes() == data


def test_other_errors_are_raised(upload: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int, data: Any, offset: int) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "pwrite", broken)
    with pytest.raises(OSError, match="Input/output error"):
        append(upload, [pattern(STAGING_SIZE)])


def test_filesystems_without_direct_writes_get_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data"
    path.touch()
    opened = os.open

    def refuse(target: Any, flags: int, *args: Any) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return opened(target, flags, *args)

    monkeypatch.setattr(os, "open", refuse)
    assert open_direct(path) is None
    monkeypatch.delattr(os, "O_DIRECT")
    assert open_direct(path) is None


def test_staging_buffers_are_reused_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = direct._StagingBuffers(keep=1)
    first, second = pool.take(), pool.take()
    assert len(first) == STAGING_SIZE
    pool.give_back(first)
    pool.give_back(second)
    assert second.closed
    assert pool.take() is first
