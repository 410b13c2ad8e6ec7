"""Write generations: a number that changes whenever a write to the database commits.

Readers note the generation before they read and may keep what they read while it is unchanged,
so a cache can serve without a database round trip and still never outlive a write. For SQLite
the number sits in a small file beside the database, mapped into memory by every process that
opens it, so a commit by any process on the machine (server workers, the CLI) is seen at once.
A database other processes reach over the network (PostgreSQL) only gets a generation local to
this process: it sees this process's writes, and callers must expire entries by age too.
"""

from __future__ import annotations

import itertools
import mmap
import os
import struct
from pathlib import Path

__all__ = ["LocalGeneration", "SharedGeneration", "WriteGeneration"]

_FORMAT = struct.Struct("<Q")


class LocalGeneration:
    """Changes on this process's commits only."""

    sees_other_writers = False

    def __init__(self) -> None:
        self._value = 0

    def current(self) -> int:
        return self._value

    def bump(self) -> None:
        self._value += 1

    def close(self) -> None:
        return None


class SharedGeneration:
    """Changes on any process's commits: an 8-byte file mapped into memory.

    A bump writes a value no process wrote before (process id and a counter), so a reader that
    noted the old value sees a change even when two processes bump at once.
    """

    sees_other_writers = True

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _FORMAT.size:
                os.ftruncate(fd, _FORMAT.size)
            self._map = mmap.mmap(fd, _FORMAT.size)
        finally:
            os.close(fd)
        self._counter = itertools.count(1)

    def current(self) -> int:
        value: int = _FORMAT.unpack_from(self._map)[0]
        return value

    def bump(self) -> None:
        value = (os.getpid() << 40) | (next(self._counter) & 0xFFFF_FFFF_FF)
        _FORMAT.pack_into(self._map, 0, value)

    def close(self) -> None:
        self._map.close()


WriteGeneration = LocalGeneration | SharedGeneration
