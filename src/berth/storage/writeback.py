"""Starting the disk write of a file range early, so the fsync that makes it durable waits less.

Linux's ``sync_file_range`` (which Python's ``os`` lacks) queues a range's dirty pages for writing
and returns (``start_writeback``), or also waits until they are written (``wait_for_writeback``);
an upload's final fsync then finds most of them on disk, and an upload that waits for what lies
a little behind it holds few dirty pages, so the kernel never throttles it for a backlog of its
own making. The pages stay cached, for the pulls that follow a push. These are hints that
guarantee nothing: where the call is missing or fails, nothing happens, and the fsync does all
the work, as it always must.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import cache

__all__ = ["start_writeback", "wait_for_writeback"]

_WAIT_BEFORE, _WRITE, _WAIT_AFTER = 1, 2, 4
"""``sync_file_range`` flags: wait for writes in flight, start writing, wait for those started."""

_SyncFileRange = Callable[[int, int, int, int], int]


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Queue bytes ``[offset, offset + length)`` of ``fd`` for writing; False if it could not."""
    return _sync_range(fd, offset, length, _WRITE)


def wait_for_writeback(fd: int, offset: int, length: int) -> bool:
    """Write bytes ``[offset, offset + length)`` of ``fd`` and wait until the disk has them; False
    if it could not. Not durable: the disk may still hold them in its cache and the file's size
    may be unrecorded, which only an fsync settles."""
    return _sync_range(fd, offset, length, _WAIT_BEFORE | _WRITE | _WAIT_AFTER)


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
