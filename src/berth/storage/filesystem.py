"""Blobs in a local folder, laid out as an OCI image layout (``blobs/sha256/ab/abcd...``).

Uploads are written under ``uploads/<id>/data``; once verified, the file is sealed (renamed, so no
append reaches it again) and hard-linked at the blob's path, so a blob path only ever holds a
complete, fsync'd file. The upload keeps its link until it is aborted. File operations run in
worker threads, in pieces of about 1 MiB. An append hands each piece to two lanes (threads that
run their jobs in order): one writes it and starts its disk write at once, waiting for what lies
``WRITE_BEHIND`` bytes behind it, so the fsync before the append returns has little left to wait
for and no upload builds a backlog of dirty pages; the other shows it to the observer (the hash).
Each runs as fast as it can while the event loop receives the next pieces.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar, TypeVarTuple

import anyio
from anyio import to_thread

from berth.errors import StorageError, StorageNotFoundError
from berth.storage.base import ChunkObserver, StoredUpload, UploadState
from berth.storage.layout import blob_key, digest_from_key, upload_key
from berth.storage.writeback import start_writeback, wait_for_writeback
from berth.types import Digest

__all__ = ["PIECE_SIZE", "WRITE_BEHIND", "FilesystemBlobStore"]

PIECE_SIZE = 1 << 20
"""Bytes gathered before one write, and read per piece."""
WRITE_BEHIND = 16 << 20
"""How far behind the writer an append waits for its bytes to reach the disk."""

_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_SEALED = "sealed"
"""An upload's data once committed: a hard link of the blob, kept until the upload is aborted."""
_IN_FLIGHT = 4
"""Futures (a write and an observation per piece) an append keeps queued before it waits."""
_MANY_PIECES = 64
"""Above this many buffered pieces, one joined write beats a long iovec."""


class FilesystemBlobStore:
    """A ``BlobStore`` over a folder; ``root`` is created on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"FilesystemBlobStore({str(self.root)!r})"

    # -- blobs ----------------------------------------------------------------------------------

    async def blob_size(self, digest: Digest) -> int | None:
        return await _in_thread(_file_size, self._blob_path(digest))

    def read_blob(
        self, digest: Digest, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        return _read_range(self._blob_path(digest), start, end, f"blob {digest}")

    def local_path(self, digest: Digest) -> Path | None:
        path = self._blob_path(digest)
        return path if path.is_file() else None

    async def presigned_url(self, digest: Digest, expires_in: int) -> str | None:
        return None

    async def delete_blob(self, digest: Digest) -> None:
        await _in_thread(self._blob_path(digest).unlink, True)

    async def list_blobs(self) -> AsyncIterator[Digest]:
        blobs = self.root / "blobs"
        for algorithm in await _in_thread(_sorted_names, blobs):
            for fan_out in await _in_thread(_sorted_names, blobs / algorithm):
                for name in await _in_thread(_sorted_names, blobs / algorithm / fan_out):
                    digest = digest_from_key(f"blobs/{algorithm}/{fan_out}/{name}")
                    if digest is not None:
                        yield digest

    # -- uploads --------------------------------------------------------------------------------

    async def start_upload(self, upload_id: str) -> UploadState:
        await _in_thread(_create_upload, self._upload_path(upload_id))
        return UploadState()

    async def append_upload(
        self,
        upload_id: str,
        state: UploadState,
        chunks: AsyncIterable[bytes],
        observe: ChunkObserver | None = None,
    ) -> UploadState:
        fd = await _in_thread(_open_for_append, self._upload_path(upload_id), state.size)
        try:
            size = await _append(_PieceWriter(fd, state.size, observe), chunks)
            return UploadState(size=size, backend=state.backend)
        finally:
            with anyio.CancelScope(shield=True):
                await _in_thread(os.close, fd)

    def read_upload(self, upload_id: str, state: UploadState) -> AsyncIterator[bytes]:
        path = self._upload_path(upload_id)
        return _read_range(path, 0, state.size, f"upload {upload_id!r}", exact=True)

    async def commit_upload(self, upload_id: str, state: UploadState, digest: Digest) -> None:
        upload, blob = self._upload_path(upload_id), self._blob_path(digest)
        with anyio.CancelScope(shield=True):
            await _in_thread(_commit, upload, blob, state.size)

    async def abort_upload(self, upload_id: str, state: UploadState) -> None:
        await _in_thread(_remove_tree, self._upload_path(upload_id).parent)

    async def list_uploads(self) -> AsyncIterator[StoredUpload]:
        uploads = self.root / "uploads"
        for name in await _in_thread(_sorted_names, uploads):
            if not _UPLOAD_ID.fullmatch(name):
                continue
            modified = await _in_thread(_last_modified, uploads / name)
            if modified is not None:
                yield StoredUpload(name, modified)

    async def purge_incomplete(self, started_before: datetime) -> int:
        return 0

    async def close(self) -> None:
        return None

    async def check(self) -> None:
        await _in_thread(_check_writable, self.root)

    # -- paths ----------------------------------------------------------------------------------

    def _blob_path(self, digest: Digest) -> Path:
        return self.root / blob_key(digest)

    def _upload_path(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise StorageError(f"invalid upload id {upload_id[:200]!r}")
        return self.root / upload_key(upload_id)


# -- appending: pieces are written and hashed in two lanes while the next ones arrive ----------


class _Lanes:
    """Idle lanes (executors of one thread, which run their jobs one at a time, in the order
    given), kept for the next append (at most ``keep``): an append takes two and gives them back
    when done, so threads are started once, not per request."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._idle: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()

    def take(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="berth-upload-lane")

    def give_back(self, lane: ThreadPoolExecutor) -> None:
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(lane)
                return
        lane.shutdown(wait=False)


_LANES = _Lanes(keep=16)


class _PieceWriter:
    """Writes an upload's pieces in one thread and shows them to the observer in another, each in
    order, while the caller receives the next ones; at most ``_IN_FLIGHT`` pieces wait."""

    def __init__(self, fd: int, offset: int, observe: ChunkObserver | None) -> None:
        self.fd, self.offset = fd, offset
        self._writes = _LANES.take()
        self._observing = None if observe is None else (_LANES.take(), observe)
        self._in_flight: deque[Future[None]] = deque()
        self._failed = False
        """A write failed: the pieces after it must not be written at the wrong offset."""
        self._written_to = offset
        """This append's bytes before this offset have reached the disk (not durably)."""

    async def start(self, pieces: list[bytes], last: bool) -> None:
        """Queue ``pieces`` (fsync'd if ``last``); waits while too many pieces are in flight."""
        end = self.offset + sum(len(piece) for piece in pieces)
        self._in_flight.append(self._writes.submit(self._write, pieces, self.offset, end, last))
        if self._observing is not None:
            lane, observe = self._observing
            self._in_flight.append(lane.submit(_observe_pieces, observe, pieces))
        self.offset = end
        while len(self._in_flight) > _IN_FLIGHT:
            await self._oldest()

    async def finish(self) -> None:
        """Until every piece is written and observed; a failure is raised here."""
        while self._in_flight:
            await self._oldest()

    async def _oldest(self) -> None:
        """Wait for the oldest job; it stays listed until done, so that ``close`` waits for it
        if this wait is cancelled."""
        await _finished(self._in_flight[0])
        self._in_flight.popleft()

    async def close(self) -> None:
        """Drop the pieces not started, wait for the one being written, give the lanes back."""
        started = [future for future in self._in_flight if not future.cancel()]
        self._in_flight.clear()
        with anyio.CancelScope(shield=True):
            for future in started:
                with suppress(Exception):
                    await asyncio.wrap_future(future)
        _LANES.give_back(self._writes)
        if self._observing is not None:
            _LANES.give_back(self._observing[0])

    def _write(self, pieces: list[bytes], offset: int, end: int, last: bool) -> None:
        """Write ``pieces`` at ``offset`` (where the file stands) up to ``end``, in the write
        lane, then fsync if ``last``, or start their disk write and wait for what lies
        ``WRITE_BEHIND`` before them. After a failure the pieces behind it are refused, not
        written out of place."""
        if self._failed:
            raise StorageError("an earlier piece of this append could not be written")
        try:
            _write_all(self.fd, pieces)
            if last:
                os.fsync(self.fd)
        except BaseException:
            self._failed = True
            raise
        if not last:
            start_writeback(self.fd, offset, end - offset)
            behind = end - WRITE_BEHIND
            if behind > self._written_to and wait_for_writeback(
                self.fd, self._written_to, behind - self._written_to
            ):
                self._written_to = behind


async def _finished(future: Future[None]) -> None:
    """Wait for ``future`` without a thread; an OS failure becomes a StorageError."""
    try:
        await asyncio.wrap_future(future)
    except OSError as error:
        raise _storage_error(error) from error


async def _append(writer: _PieceWriter, chunks: AsyncIterable[bytes]) -> int:
    """Receive ``chunks`` into pieces, each written while the next is received; the new size.

    Nothing writes after this returns, whether it succeeds or not.
    """
    try:
        pending, pending_size = list[bytes](), 0
        async for chunk in chunks:
            if not chunk:
                continue
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= PIECE_SIZE:
                await writer.start(pending, last=False)
                pending, pending_size = [], 0
        await writer.start(pending, last=True)
        await writer.finish()
    finally:
        await writer.close()
    return writer.offset


# -- worker-thread functions (blocking) -----------------------------------------------------------

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


async def _in_thread(func: Callable[[*_Ts], _T], *args: *_Ts) -> _T:
    """Run blocking file work in a worker thread; an OS failure becomes a StorageError."""
    try:
        return await to_thread.run_sync(func, *args)
    except OSError as error:
        raise _storage_error(error) from error


def _storage_error(error: OSError) -> StorageError:
    return StorageError(f"blob storage failed: {error.strerror or error}")


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _sorted_names(directory: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _last_modified(folder: Path) -> datetime | None:
    """The newest modification time of a folder and the files in it; None if it is gone."""
    try:
        times = [folder.stat().st_mtime]
        times += [entry.stat().st_mtime for entry in os.scandir(folder)]
    except FileNotFoundError:
        return None
    return datetime.fromtimestamp(max(times), UTC)


async def _read_range(
    path: Path, start: int, end: int | None, what: str, *, exact: bool = False
) -> AsyncIterator[bytes]:
    if start < 0 or (end is not None and end < 0):
        raise ValueError(f"a byte range is not negative: [{start}, {end})")
    fd, size = await _in_thread(_open_for_read, path, what)
    try:
        if exact and end is not None and size < end:
            raise StorageError(f"{what} holds {size} bytes, fewer than the {end} acknowledged")
        stop = size if end is None else min(end, size)
        position = start
        while position < stop:
            piece = await _in_thread(os.pread, fd, min(PIECE_SIZE, stop - position), position)
            if not piece:
                raise StorageError(f"{what} shrank while it was read")
            position += len(piece)
            yield piece
    finally:
        with anyio.CancelScope(shield=True):
            await _in_thread(os.close, fd)


def _open_for_read(path: Path, what: str) -> tuple[int, int]:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise StorageNotFoundError(f"{what} is not stored") from None
    return fd, os.fstat(fd).st_size


def _create_upload(path: Path) -> None:
    _make_dirs(path.parent.parent)
    try:
        path.parent.mkdir()
    except FileExistsError:
        raise StorageError(f"upload {path.parent.name!r} already exists") from None
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    _fsync_dir(path.parent)
    _fsync_dir(path.parent.parent)


def _open_for_append(path: Path, size: int) -> int:
    """Open an upload at ``size``, dropping bytes a failed request wrote past it."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        raise StorageNotFoundError(f"upload {path.parent.name!r} is not stored") from None
    try:
        _truncate_to(fd, size, path)
        os.lseek(fd, size, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _truncate_to(fd: int, size: int, path: Path) -> None:
    actual = os.fstat(fd).st_size
    if actual < size:
        raise StorageError(
            f"upload {path.parent.name!r} holds {actual} bytes, fewer than the {size} acknowledged"
        )
    if actual > size:
        os.ftruncate(fd, size)


def _observe_pieces(observe: ChunkObserver, pieces: list[bytes]) -> None:
    for piece in pieces:
        observe(piece)


def _write_all(fd: int, pieces: list[bytes]) -> None:
    """Write ``pieces`` where ``fd`` stands, however many calls it takes."""
    if len(pieces) > _MANY_PIECES:
        pieces = [b"".join(pieces)]
    views = [memoryview(piece) for piece in pieces]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views.pop(0))
        if views and written:
            views[0] = views[0][written:]


def _commit(upload: Path, blob: Path, size: int) -> None:
    """Hard-link the sealed upload at the blob's path; the upload stays until it is aborted."""
    if blob.exists():
        return
    sealed = _seal(upload, size)
    _make_dirs(blob.parent)
    try:
        os.link(sealed, blob)
    except FileExistsError:
        return
    _fsync_dir(blob.parent)


def _seal(upload: Path, size: int) -> Path:
    """Cut the upload to ``size``, fsync it and rename it so no append can reach it again."""
    sealed = upload.with_name(_SEALED)
    try:
        fd = os.open(upload, os.O_WRONLY)
    except FileNotFoundError:
        if sealed.exists():
            return sealed
        raise StorageNotFoundError(f"upload {upload.parent.name!r} is not stored") from None
    try:
        _truncate_to(fd, size, upload)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(upload, sealed)
    _fsync_dir(upload.parent)
    return sealed


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _make_dirs(path: Path) -> None:
    """``mkdir -p`` that fsyncs each parent it adds an entry to, so the entries survive a crash."""
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        _fsync_dir(directory.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_writable(root: Path) -> None:
    probe = root / f".check-{uuid.uuid4().hex}"
    try:
        _make_dirs(root)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        raise StorageError(f"blob storage at {str(root)!r} is not writable: {error}") from None
