"""Blobs in dictionaries, for tests: the filesystem driver's semantics without a disk."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from berth.errors import StorageError, StorageNotFoundError
from berth.storage.base import ChunkObserver, StoredUpload, UploadState
from berth.types import Digest

__all__ = ["MemoryBlobStore"]

_PIECE_SIZE = 1 << 20
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class MemoryBlobStore:
    """A ``BlobStore`` that keeps every byte in this process; lost when it ends."""

    def __init__(self) -> None:
        self._blobs: dict[Digest, bytes] = {}
        self._uploads: dict[str, bytearray] = {}
        self._modified: dict[str, datetime] = {}

    # -- blobs ----------------------------------------------------------------------------------

    async def blob_size(self, digest: Digest) -> int | None:
        blob = self._blobs.get(digest)
        return None if blob is None else len(blob)

    def read_blob(
        self, digest: Digest, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        return self._read(digest, start, end)

    def local_path(self, digest: Digest) -> Path | None:
        return None

    async def presigned_url(self, digest: Digest, expires_in: int) -> str | None:
        return None

    async def delete_blob(self, digest: Digest) -> None:
        self._blobs.pop(digest, None)

    async def list_blobs(self) -> AsyncIterator[Digest]:
        for digest in sorted(self._blobs, key=str):
            yield digest

    # -- uploads --------------------------------------------------------------------------------

    async def start_upload(self, upload_id: str) -> UploadState:
        _check_upload_id(upload_id)
        if upload_id in self._uploads:
            raise StorageError(f"upload {upload_id!r} already exists")
        self._uploads[upload_id] = bytearray()
        self._modified[upload_id] = datetime.now(UTC)
        return UploadState()

    async def append_upload(
        self,
        upload_id: str,
        state: UploadState,
        chunks: AsyncIterable[bytes],
        observe: ChunkObserver | None = None,
    ) -> UploadState:
        data = self._upload_at(upload_id, state.size)
        async for chunk in chunks:
            if observe is not None and chunk:
                observe(chunk)
            data += chunk
        self._modified[upload_id] = datetime.now(UTC)
        return UploadState(size=len(data), backend=state.backend)

    def read_upload(self, upload_id: str, state: UploadState) -> AsyncIterator[bytes]:
        _check_upload_id(upload_id)
        return self._read_upload(upload_id, state.size)

    async def commit_upload(self, upload_id: str, state: UploadState, digest: Digest) -> None:
        _check_upload_id(upload_id)
        if digest not in self._blobs:
            self._blobs[digest] = bytes(self._upload_at(upload_id, state.size))

    async def abort_upload(self, upload_id: str, state: UploadState) -> None:
        _check_upload_id(upload_id)
        self._forget(upload_id)

    async def list_uploads(self) -> AsyncIterator[StoredUpload]:
        for upload_id in sorted(self._uploads):
            yield StoredUpload(upload_id, self._modified[upload_id])

    async def purge_incomplete(self, started_before: datetime) -> int:
        return 0

    async def close(self) -> None:
        return None

    async def check(self) -> None:
        return None

    # -- helpers --------------------------------------------------------------------------------

    def _forget(self, upload_id: str) -> None:
        self._uploads.pop(upload_id, None)
        self._modified.pop(upload_id, None)

    async def _read(self, digest: Digest, start: int, end: int | None) -> AsyncIterator[bytes]:
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"a byte range is not negative: [{start}, {end})")
        blob = self._blobs.get(digest)
        if blob is None:
            raise StorageNotFoundError(f"blob {digest} is not stored")
        stop = len(blob) if end is None else min(end, len(blob))
        for position in range(start, stop, _PIECE_SIZE):
            yield blob[position : min(position + _PIECE_SIZE, stop)]

    async def _read_upload(self, upload_id: str, size: int) -> AsyncIterator[bytes]:
        data = self._upload_at(upload_id, size)
        for position in range(0, size, _PIECE_SIZE):
            yield bytes(data[position : min(position + _PIECE_SIZE, size)])

    def _upload_at(self, upload_id: str, size: int) -> bytearray:
        """The upload's bytes cut back to ``size``: only acknowledged bytes count."""
        _check_upload_id(upload_id)
        data = self._uploads.get(upload_id)
        if data is None:
            raise StorageNotFoundError(f"upload {upload_id!r} is not stored")
        if len(data) < size:
            raise StorageError(
                f"upload {upload_id!r} holds {len(data)} bytes, fewer than the {size} acknowledged"
            )
        del data[size:]
        return data


def _check_upload_id(upload_id: str) -> None:
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise StorageError(f"invalid upload id {upload_id[:200]!r}")
