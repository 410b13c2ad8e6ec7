"""How much of a file the page cache holds (Linux ``mincore``), for tests of dropping it."""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
from pathlib import Path

import pytest

_PAGE = mmap.PAGESIZE


def resident_bytes(path: Path) -> int:
    """Bytes of ``path`` in the page cache, in whole pages."""
    size = path.stat().st_size
    if size == 0:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    with path.open("rb") as file, mmap.mmap(file.fileno(), size, access=mmap.ACCESS_COPY) as view:
        anchor = ctypes.c_char.from_buffer(view)
        pages = ctypes.create_string_buffer((size + _PAGE - 1) // _PAGE)
        try:
            if libc.mincore(ctypes.addressof(anchor), size, pages) != 0:
                raise OSError(ctypes.get_errno(), "mincore failed")
        finally:
            del anchor
        return sum(byte & 1 for byte in pages.raw) * _PAGE


def require_droppable_cache(folder: Path) -> None:
    """Skip unless this is Linux and the page cache of ``folder``'s filesystem lets go of clean
    pages when told (tmpfs never does: its pages are the file)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("mincore and sync_file_range are Linux's")
    probe = folder / "page-cache-probe"
    probe.write_bytes(b"x" * (16 * _PAGE))
    fd = os.open(probe, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    dropped = resident_bytes(probe) == 0
    probe.unlink()
    if not dropped:
        pytest.skip(f"the filesystem under {folder} keeps its pages cached")
