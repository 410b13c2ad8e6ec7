"""Write generations: numbers that change whenever a write to the database commits.

Readers note the generation of the tables they read before they read, and may keep what they
read while it is unchanged, so a cache can serve without a database round trip and still never
outlive a write. Each table hashes to one of 63 slots, and a commit bumps the slots of the tables
it wrote (and slot 0, "any table"), so pushing blobs does not empty the cache of tags.

For SQLite the slots sit in a small file beside the database, mapped into memory by every
process that opens it, so a commit by any process on the machine (server workers, the CLI) is
seen at once. A database other processes reach over the network (PostgreSQL) only gets
generations local to this process: they see this process's writes, and callers must expire
entries by age too.
"""

from __future__ import annotations

import itertools
import mmap
import os
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["LocalGeneration", "SharedGeneration", "WriteGeneration", "slots_of"]

SLOTS = 64
_SLOT = struct.Struct("<Q")
_SIZE = SLOTS * _SLOT.size


def slots_of(tables: Iterable[str] | None) -> tuple[int, ...]:
    """The slots a write to ``tables`` bumps, or a read of them watches (None: every table)."""
    if tables is None:
        return tuple(range(SLOTS))
    found = {1 + zlib.crc32(table.encode()) % (SLOTS - 1) for table in tables}
    return tuple(sorted(found)) or (0,)


class LocalGeneration:
    """Changes on this process's commits only."""

    sees_other_writers = False

    def __init__(self) -> None:
        self._values = [0] * SLOTS
        self._counter = itertools.count(1)

    def current(self, slots: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(self._values[slot] for slot in slots)

    def bump(self, slots: tuple[int, ...]) -> None:
        value = next(self._counter)
        self._values[0] = value
        for slot in slots:
            self._values[slot] = value

    def close(self) -> None:
        return None


class SharedGeneration:
    """Changes on any process's commits: a file of 64 eight-byte slots mapped into memory.

    A bump writes a value no process wrote before (process id and a counter), so a reader that
    noted the old value sees a change even when two processes bump at once.
    """

    sees_other_writers = True

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)
            self._map = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)
        self._counter = itertools.count(1)

    def current(self, slots: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(_SLOT.unpack_from(self._map, slot * _SLOT.size)[0] for slot in slots)

    def bump(self, slots: tuple[int, ...]) -> None:
        value = (os.getpid() << 40) | (next(self._counter) & 0xFFFF_FFFF_FF)
        for slot in (*slots, 0):
            _SLOT.pack_into(self._map, slot * _SLOT.size, value)

    def close(self) -> None:
        self._map.close()


WriteGeneration = LocalGeneration | SharedGeneration
