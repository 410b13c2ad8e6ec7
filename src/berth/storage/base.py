"""The BlobStore protocol: blob bytes only, content-addressed, written once.

A blob becomes visible only through ``commit_upload``, after the service has verified its digest;
an upload's bytes live apart from blobs until then. Drivers raise ``StorageError`` /
``StorageNotFoundError``; the services decide what a missing key means.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from berth.types import Digest

__all__ = ["BlobStore", "ChunkObserver", "StoredUpload", "UploadState"]

ChunkObserver = Callable[[bytes], None]
"""Called with each chunk, in a worker thread, as it is written (the service hashes with it)."""


@dataclass(frozen=True, slots=True)
class UploadState:
    """How far an upload has come. ``backend`` is the driver's own JSON-able state (for S3, the
    multipart upload id and its parts); the metadata store keeps it, so any node can continue."""

    size: int = 0
    backend: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """An upload the store holds, and when its bytes were last written (to find orphans)."""

    upload_id: str
    modified: datetime


@runtime_checkable
class BlobStore(Protocol):
    async def blob_size(self, digest: Digest) -> int | None:
        """The stored size of a committed blob, or None if it is not stored."""

    def read_blob(
        self, digest: Digest, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream bytes ``[start, end)`` of a committed blob, in pieces of at most 1 MiB.

        ``end`` past the blob's size reads to its end; ``start >= end`` reads nothing.
        StorageNotFoundError if missing, raised on first iteration.
        """

    def local_path(self, digest: Digest) -> Path | None:
        """A path the server may send without copying through Python, when the driver has one."""

    async def presigned_url(self, digest: Digest, expires_in: int) -> str | None:
        """A URL a client can GET the blob from directly (S3), or None when there is none."""

    async def delete_blob(self, digest: Digest) -> None:
        """Remove a committed blob; removing a missing one is not an error."""

    def list_blobs(self) -> AsyncIterator[Digest]:
        """Every committed blob (for garbage collection)."""

    async def start_upload(self, upload_id: str) -> UploadState:
        """Prepare storage for a new upload session.

        ``upload_id`` is ``[A-Za-z0-9_-]{1,128}`` (StorageError otherwise, so no path tricks);
        StorageError if that id is already in use.
        """

    async def append_upload(
        self,
        upload_id: str,
        state: UploadState,
        chunks: AsyncIterable[bytes],
        observe: ChunkObserver | None = None,
    ) -> UploadState:
        """Append a stream at ``state.size``; durable (fsync'd) when it returns.

        Only acknowledged bytes count: whatever an earlier failed append left past
        ``state.size`` is dropped first. If ``chunks`` raises, the upload is still at
        ``state.size`` for the next call, but ``observe`` may have seen bytes that do not count,
        so the caller starts its hash again (``read_upload``). Appends to one upload must not
        overlap (the upload service serialises them); appends to different uploads may.
        StorageNotFoundError if the upload is not stored.
        """

    def read_upload(self, upload_id: str, state: UploadState) -> AsyncIterator[bytes]:
        """Stream back what an upload holds so far (to re-hash it on another node)."""

    async def commit_upload(self, upload_id: str, state: UploadState, digest: Digest) -> None:
        """Put a verified upload's first ``state.size`` bytes in place as ``digest``.

        Atomic: a blob key never holds a partial blob. If the blob is already stored, nothing
        is written (so a retried commit succeeds). The upload is kept, but no longer takes
        appends, until ``abort_upload``: the caller can place the blob again from it if the
        bytes are deleted before the blob is recorded. StorageNotFoundError if neither the blob
        nor the upload is stored.
        """

    async def abort_upload(self, upload_id: str, state: UploadState) -> None:
        """Discard an upload's bytes; discarding a missing one is not an error.

        Discarding needs no ``state``: ``UploadState()`` discards whatever the upload holds.
        """

    def list_uploads(self) -> AsyncIterator[StoredUpload]:
        """Every upload the store holds, in id order (upload expiry finds orphans with it)."""

    async def purge_incomplete(self, started_before: datetime) -> int:
        """Discard the driver's own unfinished writes begun before ``started_before`` (S3: the
        multipart upload a commit opens at a blob key, left by a node that died mid-commit);
        return how many. Drivers whose writes cannot be left half-done return 0."""

    async def close(self) -> None:
        """Release connections (the app calls it at shutdown)."""

    async def check(self) -> None:
        """Raise StorageError if the store cannot be reached (readiness)."""
