"""Blob storage: the ``BlobStore`` protocol and its drivers, opened by name.

Services depend on ``berth.storage.base`` only; ``create_app`` opens the configured driver here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any

from berth.storage.base import BlobStore, ChunkObserver, StoredUpload, UploadState
from berth.storage.filesystem import FilesystemBlobStore
from berth.storage.memory import MemoryBlobStore
from berth.storage.s3 import S3BlobStore

__all__ = [
    "DRIVER_NAMES",
    "BlobStore",
    "ChunkObserver",
    "FilesystemBlobStore",
    "MemoryBlobStore",
    "S3BlobStore",
    "StoredUpload",
    "UploadState",
    "open_blob_store",
]


def _open_filesystem(*, root: str | PathLike[str]) -> BlobStore:
    return FilesystemBlobStore(Path(root))


def _open_memory() -> BlobStore:
    return MemoryBlobStore()


def _open_s3(**options: Any) -> BlobStore:
    return S3BlobStore(**options)


_DRIVERS: Mapping[str, Callable[..., BlobStore]] = MappingProxyType(
    {"filesystem": _open_filesystem, "memory": _open_memory, "s3": _open_s3}
)

DRIVER_NAMES: tuple[str, ...] = tuple(sorted(_DRIVERS))
"""Every driver ``open_blob_store`` knows, for settings to validate against."""


def open_blob_store(driver: str, **options: Any) -> BlobStore:
    """Open the driver named ``driver`` with its options (``filesystem`` takes ``root``, ``s3``
    takes ``bucket`` and the connection options of ``S3BlobStore``).

    An unknown name is an error, never a silent fallback to another driver.
    """
    opener = _DRIVERS.get(driver)
    if opener is None:
        raise ValueError(f"unknown storage driver {driver!r}; known: {', '.join(DRIVER_NAMES)}")
    return opener(**options)
