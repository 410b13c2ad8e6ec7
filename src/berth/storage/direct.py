"""Appending to a file with ``O_DIRECT``: bytes go from one reused, aligned buffer to the disk
without passing through the page cache.

Through the page cache, each byte of an upload is copied once more, its pages are taken, queued
for writing, waited for and let go (``berth.storage.writeback``), and on two cores that work
competes with receiving and hashing the upload. Written directly, the kernel sends the buffer to
the disk as it is. Whole blocks go directly; the part of a block at either end of an append is
carried in the buffer (the head read back from the file first), and the last partial block is
written the ordinary way before the fsync that makes it all durable. Where a filesystem refuses
``O_DIRECT`` (tmpfs), ``open_direct`` gives None; where a direct write is refused for its
alignment, the appender writes the rest the ordinary way.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

__all__ = ["BLOCK", "STAGING_SIZE", "DirectAppender", "open_direct", "staging_buffers"]

BLOCK = 4096
"""Direct writes start, end and sit in memory on multiples of this (a page; every disk's
logical block divides it)."""
STAGING_SIZE = 2 << 20
"""Bytes gathered before one direct write."""


def open_direct(path: Path) -> int | None:
    """``path`` opened for direct writes, or None where the platform or filesystem has none."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(path, os.O_WRONLY | flag)
    except OSError as error:
        if error.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return None
        raise


class DirectAppender:
    """Appends at ``offset`` to the file open as ``fd`` (readable) and ``direct_fd`` (O_DIRECT),
    through ``staging``. Blocking; one thread at a time."""

    def __init__(self, fd: int, direct_fd: int, offset: int, staging: mmap.mmap) -> None:
        self.fd = fd
        self._direct_fd: int | None = direct_fd
        self._staging = staging
        self._view = memoryview(staging)
        head = offset % BLOCK
        self._start = offset - head
        """Where in the file the buffer's first byte goes."""
        self._filled = 0
        if head:
            self._read_head(head)

    @property
    def direct(self) -> bool:
        """False once a direct write was refused and the rest goes the ordinary way."""
        return self._direct_fd is not None

    def write(self, pieces: Sequence[bytes]) -> None:
        view = self._view
        for piece in pieces:
            data = memoryview(piece)
            while data:
                count = min(len(data), len(view) - self._filled)
                view[self._filled : self._filled + count] = data[:count]
                self._filled += count
                data = data[count:]
                if self._filled == len(view):
                    self._write_blocks()

    def finish(self) -> None:
        """Write what is left; the caller fsyncs ``fd``, which makes all of it durable."""
        self._write_blocks()
        if self._filled:
            _pwrite_all(self.fd, self._view[: self._filled], self._start)
            self._start += self._filled
            self._filled = 0

    def release(self) -> mmap.mmap:
        """The buffer, to be given back; the appender is done."""
        self._view.release()
        return self._staging

    def _write_blocks(self) -> None:
        whole = self._filled - self._filled % BLOCK
        if not whole:
            return
        written = self._write_direct(whole)
        rest = self._filled - written
        self._view[:rest] = self._view[written : self._filled]
        self._start += written
        self._filled = rest

    def _write_direct(self, length: int) -> int:
        """Write the buffer's first ``length`` bytes: directly while the disk takes them, the
        ordinary way after a refusal or a short write that stops off a block."""
        done = 0
        while done < length and self._direct_fd is not None:
            try:
                count = os.pwrite(self._direct_fd, self._view[done:length], self._start + done)
            except OSError as error:
                if error.errno != errno.EINVAL:
                    raise
                self._direct_fd = None
                break
            if count % BLOCK:
                self._direct_fd = None
            done += count
        if done < length:
            _pwrite_all(self.fd, self._view[done:length], self._start + done)
        return length

    def _read_head(self, head: int) -> None:
        """Carry the bytes already in the append's first block, so it is written whole."""
        got = os.preadv(self.fd, [self._view[:head]], self._start)
        if got != head:
            raise OSError(errno.EIO, f"read {got} of the {head} bytes before the append")
        self._filled = head


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        count = os.pwrite(fd, data, offset)
        data, offset = data[count:], offset + count


class _StagingBuffers:
    """Aligned buffers (anonymous maps: page-aligned) for direct writes, kept for reuse, since
    touching new memory costs more than the copy into it."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._idle: list[mmap.mmap] = []
        self._lock = threading.Lock()

    def take(self) -> mmap.mmap:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return mmap.mmap(-1, STAGING_SIZE)

    def give_back(self, staging: mmap.mmap) -> None:
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(staging)
                return
        with suppress(BufferError):  # a failed write's traceback may still hold a view of it
            staging.close()


staging_buffers = _StagingBuffers(keep=8)
