"""Starting the disk write of a file range early, so the fsync that makes it durable waits less.

Linux's ``sync_file_range(SYNC_FILE_RANGE_WRITE)`` (which Python's ``os`` lacks) queues the range's
dirty pages for writing and returns; an upload's final fsync then finds most of them on disk. It
is a hint and guarantees nothing: where the call is missing or fails, nothing happens, and the
fsync does all the work, as it always must.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import cache

__all__ = ["start_writeback"]

_SYNC_FILE_RANGE_WRITE = 2

_SyncFileRange = Callable[[int, int, int, int], int]


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Queue bytes ``[offset, offset + length)`` of ``fd`` for writing; False if it could not."""
    sync_file_range = _sync_file_range()
    if sync_file_range is None or length <= 0:
        return False
    return sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE) == 0


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
