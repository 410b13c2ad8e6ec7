"""Writing an upload's pages to disk behind the writer, and out of the page cache once there.

Linux's ``sync_file_range`` (which Python's ``os`` lacks) queues a range's dirty pages for
writing (``start_writeback``), or writes them and waits (``write_behind``). An upload's final
fsync then finds nearly everything on disk already. ``write_behind`` and ``drop_cached`` also let
the page cache drop the range: kept, a 1 GiB push grows the cache by 1 GiB of newly taken memory,
which on a virtual machine costs more than the disk write itself; dropped a little behind the
writer, the same pages are reused for the next pieces (the profile table in performance.md). These
are hints that guarantee nothing: where a call is missing or fails, nothing happens, and the
fsync does all the work, as it always must.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from functools import cache

__all__ = ["drop_cached", "start_writeback", "write_behind"]

_WAIT_BEFORE, _WRITE, _WAIT_AFTER = 1, 2, 4
"""``sync_file_range`` flags: wait for writes in flight, start writing, wait for those started."""

_SyncFileRange = Callable[[int, int, int, int], int]


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Queue bytes ``[offset, offset + length)`` of ``fd`` for writing; False if it could not."""
    return _sync_range(fd, offset, length, _WRITE)


def write_behind(fd: int, offset: int, length: int) -> bool:
    """Write bytes ``[offset, offset + length)`` of ``fd`` to disk, wait, and drop them from the
    page cache; False if it could not. Not durable: the disk may still hold them in its cache
    and the file's size may be unrecorded, which only an fsync settles."""
    if not _sync_range(fd, offset, length, _WAIT_BEFORE | _WRITE | _WAIT_AFTER):
        return False
    return drop_cached(fd, offset, length)


def drop_cached(fd: int, offset: int, length: int) -> bool:
    """Let the page cache drop the clean pages of ``[offset, offset + length)``; False if it
    could not. Dirty pages stay until written."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is None or length <= 0:
        return False
    try:
        advise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    except OSError:
        return False
    return True


def _sync_range(fd: int, offset: int, length: int, flags: int) -> bool:
    sync_file_range = _sync_file_range()
    if sync_file_range is None or length <= 0:
        return False
    return sync_file_range(fd, offset, length, flags) == 0


@cache
def _sync_file_range() -> _SyncFileRange | None:
    """The C library's ``sync_file_range`` (called without the GIL), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function
