"""The blob upload state machine: start, append, complete (digest-verified), cancel, mount.

Bytes go to the BlobStore as they arrive and are hashed in the same worker-thread call; the
hash state is kept in this process so a chunked upload is hashed once. If another node (or a
restart) continues an upload, the bytes are re-read and hashed at completion instead. A blob
becomes visible only after its digest is verified and its row is committed. Behind a load
balancer most uploads finish on another node than the one that hashed their start, so the hash
states kept here are capped (the oldest go first), and a lock exists only while it is in use.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio

from berth.errors import (
    BlobUnknownError,
    BlobUploadUnknownError,
    DigestInvalidError,
    RangeInvalidError,
    SizeInvalidError,
)
from berth.meta.base import Blob, BlobLink, MetaStore, Repository, Upload
from berth.meta.cache import ReadCache
from berth.services.registry import blob_mounting_enabled
from berth.services.telemetry import NoTelemetry, Telemetry
from berth.storage.base import BlobStore, UploadState
from berth.types import Digest

__all__ = ["LINK_REFRESH_AFTER", "UploadService"]

_DEFAULT_ALGORITHM = "sha256"
_KEPT_HASHES = 4096
"""Hash states of unfinished uploads kept per process; one evicted costs a re-read at the end."""
LINK_REFRESH_AFTER = timedelta(hours=1)
"""A link this old is made young again when its blob is checked or read through the repository;
a younger one is left alone, so a lookup writes at most once an hour per link."""


@dataclass(slots=True)
class _Hashing:
    size: int
    hasher: hashlib._Hash


@dataclass(slots=True)
class _Exclusive:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class UploadService:
    def __init__(
        self,
        meta: MetaStore,
        store: BlobStore,
        clock: Callable[[], datetime],
        telemetry: Telemetry | None = None,
        refresh_links_after: timedelta = LINK_REFRESH_AFTER,
    ) -> None:
        """``refresh_links_after`` of zero never refreshes a link."""
        self.meta = meta
        self.store = store
        self.clock = clock
        self.telemetry = telemetry or NoTelemetry()
        self.refresh_links_after = refresh_links_after
        self._hashing: dict[str, _Hashing] = {}
        self._locks: dict[str, _Exclusive] = {}
        self._linked: ReadCache[BlobLink] = ReadCache(meta, ("blobs", "repository_blobs"))

    async def start(self, repository: Repository) -> Upload:
        upload_id = str(uuid.uuid4())
        state = await self.store.start_upload(upload_id)
        now = self.clock()
        upload = Upload(upload_id, repository.id, state.size, state.backend, now, now)
        async with self.meta.transaction() as tx:
            await tx.uploads.create(upload)
        self._keep_hash(upload_id, _Hashing(0, hashlib.new(_DEFAULT_ALGORITHM)))
        self.telemetry.upload_started()
        return upload

    async def get(self, repository: Repository, upload_id: str) -> Upload:
        async with self.meta.read() as tx:
            upload = await tx.uploads.get(upload_id)
        if upload is None or upload.repository_id != repository.id:
            raise BlobUploadUnknownError(
                f"upload {upload_id[:100]!r} is not known to this repository",
                detail={"upload": upload_id[:100]},
            )
        return upload

    async def _stored(self, upload_id: str) -> Upload | None:
        async with self.meta.read() as tx:
            return await tx.uploads.get(upload_id)

    async def append(
        self,
        repository: Repository,
        upload_id: str,
        chunks: AsyncIterable[bytes],
        start: int | None = None,
        length: int | None = None,
    ) -> Upload:
        """Append a chunk; ``start`` (from Content-Range) must be where the upload ends."""
        async with self._lock(upload_id):
            upload = await self.get(repository, upload_id)
            if start is not None and start != upload.size:
                raise RangeInvalidError(
                    f"chunk starts at {start} but the upload holds {upload.size} bytes",
                    detail={"size": upload.size},
                )
            return await self._append(upload, chunks, length)

    async def complete(
        self,
        repository: Repository,
        upload_id: str,
        digest: Digest,
        chunks: AsyncIterable[bytes] | None = None,
        start: int | None = None,
    ) -> Blob:
        async with self._lock(upload_id):
            upload = await self.get(repository, upload_id)
            if start is not None and start != upload.size:
                raise RangeInvalidError(
                    f"chunk starts at {start} but the upload holds {upload.size} bytes",
                    detail={"size": upload.size},
                )
            if chunks is not None:
                upload = await self._append(upload, chunks, None)
            return await self._commit(repository, upload, digest)

    async def upload_whole(
        self, repository: Repository, digest: Digest, chunks: AsyncIterable[bytes]
    ) -> Blob:
        """A monolithic upload (POST with ?digest=): one request, verified, committed."""
        upload = await self.start(repository)
        if digest.algorithm != _DEFAULT_ALGORITHM:
            self._keep_hash(upload.id, _Hashing(0, digest.hasher()))
        try:
            upload = await self._append(upload, chunks, None)
            return await self._commit(repository, upload, digest)
        except BaseException:
            await self._discard(upload)
            raise

    async def cancel(self, repository: Repository, upload_id: str) -> None:
        async with self._lock(upload_id):
            upload = await self.get(repository, upload_id)
            await self._discard(upload)
        self.telemetry.upload_finished("cancelled")

    async def mount(self, target: Repository, source: Repository, digest: Digest) -> Blob | None:
        """Link a blob readable in ``source`` into ``target``; None if ``source`` lacks it.

        The source's link is held while the target's is made, so garbage collection can neither
        drop it nor delete the blob in between.
        """
        async with self.meta.transaction() as tx:
            if not await blob_mounting_enabled(tx):
                return None
            blob = await tx.blobs.pin_linked(source.id, str(digest))
            if blob is not None:
                await tx.blobs.link(target.id, str(digest), self.clock())
            return blob

    async def blob(self, repository: Repository, digest: Digest) -> Blob:
        """The blob linked to the repository; a stale link is made young again.

        A client that finds a blob here skips its upload and refers to it in a manifest later,
        so the link must outlive the grace period from now, not from when it was pushed.
        """
        key = (repository.id, str(digest))
        link = await self._linked.get(key, lambda: self._get_link(repository.id, str(digest)))
        if link is not None and self._is_stale(link):
            link = await self._refresh(repository.id, link)
        if link is None:
            raise BlobUnknownError(
                f"blob unknown to registry: {digest}", detail={"digest": str(digest)}
            )
        return link.blob

    async def _get_link(self, repository_id: int, digest: str) -> BlobLink | None:
        async with self.meta.read() as tx:
            return await tx.blobs.get_link(repository_id, digest)

    def _is_stale(self, link: BlobLink) -> bool:
        after = self.refresh_links_after
        return bool(after) and link.linked_at < self.clock() - after

    async def _refresh(self, repository_id: int, link: BlobLink) -> BlobLink | None:
        """The link linked now; None if the collector dropped it since it was read."""
        now = self.clock()
        async with self.meta.transaction() as tx:
            if not await tx.blobs.refresh_link(repository_id, link.blob.digest, now):
                return None
        return BlobLink(link.blob, now)

    async def unlink(self, repository: Repository, digest: Digest) -> bool:
        """Make a blob unreadable through a repository (the bytes go at garbage collection)."""
        async with self.meta.transaction() as tx:
            return await tx.blobs.unlink(repository.id, str(digest))

    @asynccontextmanager
    async def _lock(self, upload_id: str) -> AsyncIterator[None]:
        """One request at a time per upload in this process; the lock goes with its last user."""
        entry = self._locks.setdefault(upload_id, _Exclusive())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                self._locks.pop(upload_id, None)

    def _keep_hash(self, upload_id: str, hashing: _Hashing) -> None:
        self._hashing[upload_id] = hashing
        while len(self._hashing) > _KEPT_HASHES:
            del self._hashing[next(iter(self._hashing))]

    async def _append(
        self, upload: Upload, chunks: AsyncIterable[bytes], length: int | None
    ) -> Upload:
        hashing = self._hashing.get(upload.id)
        if hashing is not None and hashing.size != upload.size:
            del self._hashing[upload.id]
            hashing = None
        observe = None if hashing is None else hashing.hasher.update
        before = UploadState(upload.size, upload.backend)
        try:
            state = await self.store.append_upload(upload.id, before, chunks, observe)
        except BaseException:
            self._hashing.pop(upload.id, None)
            raise
        if length is not None and state.size - before.size != length:
            self._hashing.pop(upload.id, None)
            raise SizeInvalidError(
                f"Content-Range announced {length} bytes but {state.size - before.size} arrived"
            )
        now = self.clock()
        async with self.meta.transaction() as tx:
            moved = await tx.uploads.advance(upload.id, before.size, state.size, state.backend, now)
        if not moved:
            self._hashing.pop(upload.id, None)
            current = await self._stored(upload.id)
            raise RangeInvalidError(
                "another request appended to this upload at the same time; continue from where"
                " it ends now",
                detail={"size": 0 if current is None else current.size},
            )
        if hashing is not None:
            hashing.size = state.size
        return Upload(
            upload.id, upload.repository_id, state.size, state.backend, upload.started_at, now
        )

    async def _digest_of(self, upload: Upload, algorithm: str) -> str:
        hashing = self._hashing.pop(upload.id, None)
        if hashing is not None and hashing.size == upload.size and hashing.hasher.name == algorithm:
            return f"{algorithm}:{hashing.hasher.hexdigest()}"
        hasher = hashlib.new(algorithm)
        async for chunk in self.store.read_upload(
            upload.id, UploadState(upload.size, upload.backend)
        ):
            await anyio.to_thread.run_sync(hasher.update, chunk)
        return f"{algorithm}:{hasher.hexdigest()}"

    async def _commit(self, repository: Repository, upload: Upload, digest: Digest) -> Blob:
        actual = await self._digest_of(upload, digest.algorithm)
        if actual != str(digest):
            await self._discard(upload)
            self.telemetry.upload_finished("rejected")
            raise DigestInvalidError(
                f"digest mismatch: the content's digest is {actual}, not {digest}",
                detail={"expected": str(digest), "actual": actual},
            )
        with anyio.CancelScope(shield=True):
            blob = await self._record(repository, upload, digest)
        self._forget(upload.id)
        self.telemetry.upload_finished("completed")
        return blob

    async def _record(self, repository: Repository, upload: Upload, digest: Digest) -> Blob:
        """Put the bytes in place, then record and link the blob with its row held.

        The bytes are checked again while the row is held: garbage collection deletes bytes
        only while it holds the row, so bytes seen then stay until the link protects them, and
        bytes it took in between are put back from the upload, which the store keeps until the
        upload is aborted.
        """
        state = UploadState(upload.size, upload.backend)
        if await self.store.blob_size(digest) is None:
            await self.store.commit_upload(upload.id, state, digest)
        async with self.meta.transaction() as tx:
            blob = await tx.blobs.put(str(digest), upload.size, self.clock())
            if await self.store.blob_size(digest) is None:
                await self.store.commit_upload(upload.id, state, digest)
            await tx.blobs.link(repository.id, str(digest), self.clock())
            await tx.uploads.delete(upload.id)
        await self.store.abort_upload(upload.id, state)
        return blob

    async def _discard(self, upload: Upload) -> None:
        with anyio.CancelScope(shield=True):
            await self.store.abort_upload(upload.id, UploadState(upload.size, upload.backend))
            async with self.meta.transaction() as tx:
                await tx.uploads.delete(upload.id)
        self._forget(upload.id)

    def _forget(self, upload_id: str) -> None:
        self._hashing.pop(upload_id, None)
