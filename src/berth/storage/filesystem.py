"""Blobs in a local folder, laid out as an OCI image layout (``blobs/sha256/ab/abcd...``).

Uploads are written under ``uploads/<id>/data``; once verified, the file is sealed (renamed, so no
append reaches it again) and hard-linked at the blob's path, so a blob path only ever holds a
complete, fsync'd file. The upload keeps its link until it is aborted. Every file operation runs
in a worker thread, in pieces of about 1 MiB. An append receives its next piece while the one
before is written (and, in another thread, hashed), and starts each piece's disk write at once,
so the fsync before it returns has little left to wait for. Pieces more than ``WRITE_BEHIND``
bytes behind the writer are waited for and dropped from the page cache, and so is the rest after
that fsync, so an upload holds little memory and reuses it (``berth.storage.writeback``).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar, TypeVarTuple

import anyio
from anyio import to_thread
from anyio.abc import TaskGroup

from berth.errors import StorageError, StorageNotFoundError
from berth.storage.base import ChunkObserver, StoredUpload, UploadState
from berth.storage.layout import blob_key, digest_from_key, upload_key
from berth.storage.writeback import drop_cached, start_writeback, write_behind
from berth.types import Digest

__all__ = ["PIECE_SIZE", "WRITE_BEHIND", "FilesystemBlobStore"]

PIECE_SIZE = 1 << 20
"""Bytes gathered before one write, and read per piece."""
WRITE_BEHIND = 16 << 20
"""How far behind the writer an upload's bytes are waited for and dropped from the page cache."""

_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_SEALED = "sealed"
"""An upload's data once committed: a hard link of the blob, kept until the upload is aborted."""
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


# -- appending: the next piece arrives while the one before is written --------------------------


class _PieceWriter:
    """Writes an upload's pieces in worker threads, one piece at a time and in order; the
    observer sees each piece in another thread while it is written."""

    def __init__(self, fd: int, offset: int, observe: ChunkObserver | None) -> None:
        self.fd, self.offset, self.observe = fd, offset, observe
        self._cached_from = offset
        """Bytes of this append before this offset are on disk and out of the page cache."""
        self._jobs: list[anyio.Event] = []
        self._error: Exception | None = None

    def start(self, group: TaskGroup, pieces: list[bytes], last: bool) -> None:
        """Write ``pieces`` (and fsync if ``last``) while the caller goes on; ``wait`` first."""
        self._jobs = [self._job(group, self._write, pieces, self.offset, last)]
        if self.observe is not None:
            self._jobs.append(self._job(group, _observe_pieces, self.observe, pieces))
        self.offset += sum(len(piece) for piece in pieces)

    async def wait(self) -> None:
        """Until the piece in flight is written and observed; a failure is raised here."""
        for job in self._jobs:
            await job.wait()
        if self._error is not None:
            raise self._error

    def _job(self, group: TaskGroup, func: Callable[[*_Ts], None], *args: *_Ts) -> anyio.Event:
        done = anyio.Event()
        group.start_soon(self._run, done, func, *args)
        return done

    async def _run(self, done: anyio.Event, func: Callable[[*_Ts], None], *args: *_Ts) -> None:
        try:
            await _in_thread(func, *args)
        except Exception as error:
            self._error = error
        finally:
            done.set()

    def _write(self, pieces: list[bytes], offset: int, last: bool) -> None:
        """Write ``pieces`` at ``offset`` (where the file stands), in a worker thread. The last
        ones are fsync'd; others start their disk write, and what lies ``WRITE_BEHIND`` before
        them is waited for. Either way, what is on disk leaves the page cache."""
        _write_all(self.fd, pieces)
        end = offset + sum(len(piece) for piece in pieces)
        if last:
            os.fsync(self.fd)
            drop_cached(self.fd, self._cached_from, end - self._cached_from)
            return
        start_writeback(self.fd, offset, end - offset)
        behind = end - WRITE_BEHIND
        if behind > self._cached_from and write_behind(
            self.fd, self._cached_from, behind - self._cached_from
        ):
            self._cached_from = behind


async def _append(writer: _PieceWriter, chunks: AsyncIterable[bytes]) -> int:
    """Receive ``chunks`` into pieces, each written while the next is received; the new size.

    A failure is kept until the write in flight ends, so nothing writes after this returns.
    """
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        try:
            pending, pending_size = list[bytes](), 0
            async for chunk in chunks:
                if not chunk:
                    continue
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= PIECE_SIZE:
                    await writer.wait()
                    writer.start(group, pending, last=False)
                    pending, pending_size = [], 0
            await writer.wait()
            writer.start(group, pending, last=True)
            await writer.wait()
        except Exception as error:
            failure = error
    if failure is not None:
        raise failure
    return writer.offset


# -- worker-thread functions (blocking) -----------------------------------------------------------

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


async def _in_thread(func: Callable[[*_Ts], _T], *args: *_Ts) -> _T:
    """Run blocking file work in a worker thread; an OS failure becomes a StorageError."""
    try:
        return await to_thread.run_sync(func, *args)
    except OSError as error:
        raise StorageError(f"blob storage failed: {error.strerror or error}") from error


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
