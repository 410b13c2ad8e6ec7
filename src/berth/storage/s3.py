"""Blobs in an S3-compatible bucket (AWS S3, MinIO, SeaweedFS, Ceph) through aiobotocore.

Keys follow ``layout.py`` under an optional prefix. An upload is a set of objects under
``uploads/<id>/``: a ``started`` marker, parts of at least 5 MiB (``part-<n>-<token>``), and a
few small tail segments not yet big enough to be a part (``tail-<n>-<token>``, folded into the
next part). Every append writes objects under new names, and which objects count is recorded
only in ``UploadState.backend``, which the metadata store keeps: any node can continue any
upload, and whatever a failed or late request wrote is simply never referenced.

A blob's key depends on its digest, known only at commit, and an S3 object can be neither
renamed nor appended to, so ``commit_upload`` creates a multipart upload at the blob key whose
parts are server-side copies of the upload's parts (``UploadPartCopy``): the blob appears whole
in one step and no blob byte passes through the node, but S3 copies each byte once more. Keeping
the parts as plain objects (rather than parts of an open multipart upload) is what lets any node
read an unfinished upload back to hash it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
from anyio import to_thread

from berth.errors import StorageError, StorageNotFoundError
from berth.storage.base import ChunkObserver, StoredUpload, UploadState
from berth.storage.layout import blob_key, digest_from_key, upload_key
from berth.storage.s3_errors import RangeNotSatisfiableError, UploadExistsError, translated
from berth.types import Digest

__all__ = ["MIN_PART_SIZE", "PIECE_SIZE", "S3BlobStore"]

PIECE_SIZE = 1 << 20
"""Bytes read per piece, and hashed per worker-thread call."""
MIN_PART_SIZE = 5 << 20
"""S3's smallest part but the last one; a part is this (or a multiple, for huge blobs)."""

_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_OBJECT_NAME = re.compile(r"(part|tail)-[0-9]+-[0-9a-f]{12}")
_PARTS_PER_STEP = 2000
"""Every this many parts the part size grows by MIN_PART_SIZE (10,000 parts reach ~146 GiB)."""
_MAX_PARTS = 10_000
_MAX_TAIL_SEGMENTS = 16
_COPY_CONCURRENCY = 8
_DELETE_BATCH = 1000
_MARKER = "started"


@dataclass(frozen=True, slots=True)
class _Piece:
    name: str
    size: int


@dataclass(slots=True)
class _Session:
    """An upload's S3 state as ``UploadState.backend`` holds it (see the module docstring)."""

    parts: list[_Piece] = field(default_factory=list)
    tail: list[_Piece] = field(default_factory=list)
    last: int = 0
    stale: list[str] = field(default_factory=list)
    """Objects the state no longer needs; deleted once it is acknowledged (the next call)."""

    @property
    def size(self) -> int:
        return sum(piece.size for piece in (*self.parts, *self.tail))

    @classmethod
    def load(cls, upload_id: str, state: UploadState, *, exact: bool = True) -> _Session:
        """The session in ``state``; its pieces must hold ``state.size`` bytes (at least, when
        not ``exact``: a reader may ask for a prefix)."""
        backend = state.backend
        try:
            session = cls(
                parts=[_Piece(str(name), int(size)) for name, size in backend["parts"]],
                tail=[_Piece(str(name), int(size)) for name, size in backend["tail"]],
                last=int(backend["last"]),
                stale=[str(name) for name in backend["stale"]],
            )
        except (KeyError, TypeError, ValueError):
            raise StorageError(f"upload {upload_id!r} has no S3 upload state") from None
        names = [piece.name for piece in (*session.parts, *session.tail)] + session.stale
        if not all(_OBJECT_NAME.fullmatch(name) for name in names):
            raise StorageError(f"upload {upload_id!r} has a malformed S3 upload state")
        if session.size < state.size or (exact and session.size != state.size):
            raise StorageError(
                f"upload {upload_id!r} holds {session.size} bytes, not the {state.size} acknowledged"
            )
        return session

    def dump(self) -> dict[str, Any]:
        return {
            "parts": [[piece.name, piece.size] for piece in self.parts],
            "tail": [[piece.name, piece.size] for piece in self.tail],
            "last": self.last,
            "stale": list(self.stale),
        }

    def new_name(self, kind: str, token: str) -> str:
        self.last += 1
        return f"{kind}-{self.last}-{token}"

    def part_target(self) -> int:
        return MIN_PART_SIZE * (1 + len(self.parts) // _PARTS_PER_STEP)

    def retire_tail(self) -> None:
        self.stale += [piece.name for piece in self.tail]
        self.tail = []


def _new_token() -> str:
    return uuid.uuid4().hex[:12]


class S3BlobStore:
    """A ``BlobStore`` over one bucket. The client opens on first use; ``close()`` ends it."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint: str | None = None,
        prefix: str = "",
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.region = region
        self._credentials = (access_key_id, secret_access_key)
        self._client: Any = None
        self._stack: AsyncExitStack | None = None
        self._opening = anyio.Lock()

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, endpoint={self.endpoint!r})"

    async def __aenter__(self) -> S3BlobStore:
        await self._s3()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP client (at app shutdown); the next call opens a new one."""
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    # -- blobs ----------------------------------------------------------------------------------

    async def blob_size(self, digest: Digest) -> int | None:
        return await self._size(self._blob_key(digest))

    def read_blob(
        self, digest: Digest, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        return self._read_blob(self._blob_key(digest), start, end, f"blob {digest}")

    def local_path(self, digest: Digest) -> Path | None:
        return None

    async def presigned_url(self, digest: Digest, expires_in: int) -> str | None:
        s3 = await self._s3()
        params = {"Bucket": self.bucket, "Key": self._blob_key(digest)}
        with translated("presign GetObject"):
            url = await s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return str(url)

    async def delete_blob(self, digest: Digest) -> None:
        s3 = await self._s3()
        with translated("DeleteObject"):
            await s3.delete_object(Bucket=self.bucket, Key=self._blob_key(digest))

    async def list_blobs(self) -> AsyncIterator[Digest]:
        async for key in self._list_keys(f"{self.prefix}blobs/"):
            digest = digest_from_key(key.removeprefix(self.prefix))
            if digest is not None:
                yield digest

    async def check(self) -> None:
        s3 = await self._s3()
        try:
            with translated(f"HeadBucket {self.bucket!r}"):
                await s3.head_bucket(Bucket=self.bucket)
        except StorageNotFoundError:
            raise StorageError(f"S3 HeadBucket: bucket {self.bucket!r} does not exist") from None

    # -- uploads --------------------------------------------------------------------------------

    async def start_upload(self, upload_id: str) -> UploadState:
        s3, key = await self._s3(), self._upload_object(upload_id, _MARKER)
        try:
            with translated("PutObject"):
                await s3.put_object(Bucket=self.bucket, Key=key, Body=b"", IfNoneMatch="*")
        except UploadExistsError:
            raise StorageError(f"upload {upload_id!r} already exists") from None
        return UploadState(0, _Session().dump())

    async def append_upload(
        self,
        upload_id: str,
        state: UploadState,
        chunks: AsyncIterable[bytes],
        observe: ChunkObserver | None = None,
    ) -> UploadState:
        await self._require_upload(upload_id)
        session = _Session.load(upload_id, state)
        with suppress(StorageError):  # best effort: commit and abort remove them all anyway
            await self._delete_objects([self._upload_object(upload_id, n) for n in session.stale])
            session.stale = []
        writer = _PartWriter(self, upload_id, session, observe)
        async for chunk in chunks:
            await writer.add(chunk)
        await writer.finish()
        return UploadState(session.size, session.dump())

    def read_upload(self, upload_id: str, state: UploadState) -> AsyncIterator[bytes]:
        _check_upload_id(upload_id)
        return self._read_upload(upload_id, state)

    async def commit_upload(self, upload_id: str, state: UploadState, digest: Digest) -> None:
        _check_upload_id(upload_id)
        blob = self._blob_key(digest)
        with anyio.CancelScope(shield=True):
            if await self._size(blob) is None:
                await self._require_upload(upload_id)
                await self._assemble(upload_id, _Session.load(upload_id, state), blob)

    async def abort_upload(self, upload_id: str, state: UploadState) -> None:
        prefix = self._upload_object(upload_id, "")
        await self._delete_objects([key async for key in self._list_keys(prefix)])

    async def list_uploads(self) -> AsyncIterator[StoredUpload]:
        current: StoredUpload | None = None
        async for key, modified in self._list_objects(f"{self.prefix}uploads/"):
            upload_id = key.removeprefix(f"{self.prefix}uploads/").partition("/")[0]
            if current is not None and current.upload_id != upload_id:
                yield current
                current = None
            if _UPLOAD_ID.fullmatch(upload_id) and (current is None or current.modified < modified):
                current = StoredUpload(upload_id, modified)
        if current is not None:
            yield current

    async def purge_incomplete(self, started_before: datetime) -> int:
        s3, purged = await self._s3(), 0
        pages = s3.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}blobs/"
        )
        with translated("ListMultipartUploads"):
            async for page in pages:
                for entry in page.get("Uploads", []):
                    if entry["Initiated"] < started_before:
                        await s3.abort_multipart_upload(
                            Bucket=self.bucket, Key=entry["Key"], UploadId=entry["UploadId"]
                        )
                        purged += 1
        return purged

    # -- keys -----------------------------------------------------------------------------------

    def _blob_key(self, digest: Digest) -> str:
        return self.prefix + blob_key(digest)

    def _upload_object(self, upload_id: str, name: str) -> str:
        """``uploads/<id>/<name>`` under the prefix; an unsafe id is a StorageError."""
        _check_upload_id(upload_id)
        folder = upload_key(upload_id).rpartition("/")[0]
        return f"{self.prefix}{folder}/{name}"

    # -- S3 calls -------------------------------------------------------------------------------

    async def _s3(self) -> Any:
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    await self._open()
        return self._client

    async def _open(self) -> None:
        # aiobotocore (and aiohttp under it) load with the first S3 call, not with berth.storage.
        from aiobotocore import config, session  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: PLC0415

        access_key_id, secret_access_key = self._credentials
        options = config.AioConfig(
            s3={"addressing_style": "path" if self.endpoint else "auto"},
            signature_version="s3v4",
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"mode": "standard", "max_attempts": 4},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=32,
        )
        stack = AsyncExitStack()
        creator = session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=options,
        )
        self._client = await stack.enter_async_context(creator)
        self._stack = stack

    async def _size(self, key: str) -> int | None:
        s3 = await self._s3()
        try:
            with translated("HeadObject"):
                response = await s3.head_object(Bucket=self.bucket, Key=key)
        except StorageNotFoundError:
            return None
        return int(response["ContentLength"])

    async def _require_upload(self, upload_id: str) -> None:
        if await self._size(self._upload_object(upload_id, _MARKER)) is None:
            raise StorageNotFoundError(f"upload {upload_id!r} is not stored")

    async def _put(self, key: str, body: bytes) -> None:
        s3 = await self._s3()
        with translated("PutObject"):
            await s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    async def _get(self, key: str) -> bytes:
        return b"".join([piece async for piece in self._stream(key, key, 0, None)])

    async def _stream(
        self, key: str, what: str, start: int, end: int | None
    ) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` of an object, as they arrive (at most PIECE_SIZE each)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start > 0 or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        s3 = await self._s3()
        try:
            with translated("GetObject"):
                response = await s3.get_object(**params)
        except RangeNotSatisfiableError:
            return
        except StorageNotFoundError:
            raise StorageNotFoundError(f"{what} is not stored") from None
        body = response["Body"]
        try:
            while piece := await _read_body(body, what):
                yield piece
        finally:
            body.close()

    async def _list_keys(self, prefix: str) -> AsyncIterator[str]:
        async for key, _ in self._list_objects(prefix):
            yield key

    async def _list_objects(self, prefix: str) -> AsyncIterator[tuple[str, datetime]]:
        s3 = await self._s3()
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        with translated("ListObjectsV2"):
            async for page in pages:
                for entry in page.get("Contents", []):
                    yield str(entry["Key"]), entry["LastModified"]

    async def _delete_objects(self, keys: list[str]) -> None:
        s3 = await self._s3()
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
            with translated("DeleteObjects"):
                response = await s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            errors = response.get("Errors", [])
            if errors:
                raise StorageError(f"S3 DeleteObjects failed: {errors[0]}")

    # -- reads ----------------------------------------------------------------------------------

    async def _read_blob(
        self, key: str, start: int, end: int | None, what: str
    ) -> AsyncIterator[bytes]:
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"a byte range is not negative: [{start}, {end})")
        if end is not None and start >= end:
            if await self._size(key) is None:
                raise StorageNotFoundError(f"{what} is not stored")
            return
        async for piece in self._stream(key, what, start, end):
            yield piece

    async def _read_upload(self, upload_id: str, state: UploadState) -> AsyncIterator[bytes]:
        await self._require_upload(upload_id)
        session = _Session.load(upload_id, state, exact=False)
        remaining = state.size
        for piece in (*session.parts, *session.tail):
            if remaining <= 0:
                return
            wanted, count = min(piece.size, remaining), 0
            what = f"upload {upload_id!r} {piece.name}"
            key = self._upload_object(upload_id, piece.name)
            async for data in self._stream(key, what, 0, wanted):
                count += len(data)
                yield data
            if count != wanted:
                raise StorageError(f"{what} holds {count} bytes, fewer than the {wanted} recorded")
            remaining -= wanted

    async def _read_tail(self, upload_id: str, session: _Session) -> list[bytes]:
        return [await self._get(self._upload_object(upload_id, p.name)) for p in session.tail]

    # -- commit ---------------------------------------------------------------------------------

    async def _assemble(self, upload_id: str, session: _Session, blob: str) -> None:
        """Make ``blob`` from the upload's objects, in one step, server-side where S3 allows."""
        sources = [self._upload_object(upload_id, piece.name) for piece in session.parts]
        if session.tail:
            sources.append(await self._single_tail(upload_id, session))
        if not sources:
            await self._put(blob, b"")
        elif len(sources) == 1:
            s3 = await self._s3()
            with translated("CopyObject"):
                await s3.copy_object(
                    Bucket=self.bucket, Key=blob, CopySource=self._source(sources[0])
                )
        else:
            await self._copy_multipart(blob, sources)

    async def _single_tail(self, upload_id: str, session: _Session) -> str:
        """The tail as one object: the segment itself, or the segments joined (< one part)."""
        if len(session.tail) == 1:
            return self._upload_object(upload_id, session.tail[0].name)
        joined = b"".join(await self._read_tail(upload_id, session))
        key = self._upload_object(upload_id, session.new_name("tail", _new_token()))
        await self._put(key, joined)
        return key

    def _source(self, key: str) -> dict[str, str]:
        return {"Bucket": self.bucket, "Key": key}

    async def _copy_multipart(self, blob: str, sources: list[str]) -> None:
        s3 = await self._s3()
        with translated("CreateMultipartUpload"):
            created = await s3.create_multipart_upload(Bucket=self.bucket, Key=blob)
        multipart_id = str(created["UploadId"])
        try:
            etags = await self._copy_parts(blob, multipart_id, sources)
            parts = [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, 1)]
            with translated("CompleteMultipartUpload"):
                await s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=blob,
                    UploadId=multipart_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            with (
                anyio.CancelScope(shield=True),
                suppress(StorageError),
                translated("AbortMultipartUpload"),
            ):
                await s3.abort_multipart_upload(Bucket=self.bucket, Key=blob, UploadId=multipart_id)
            raise

    async def _copy_parts(self, blob: str, multipart_id: str, sources: list[str]) -> list[str]:
        etags = [""] * len(sources)
        failures: list[StorageError] = []
        limiter = anyio.CapacityLimiter(_COPY_CONCURRENCY)
        s3 = await self._s3()

        async def copy(index: int) -> None:
            async with limiter:
                try:
                    with translated("UploadPartCopy"):
                        response = await s3.upload_part_copy(
                            Bucket=self.bucket,
                            Key=blob,
                            UploadId=multipart_id,
                            PartNumber=index + 1,
                            CopySource=self._source(sources[index]),
                        )
                    etags[index] = str(response["CopyPartResult"]["ETag"])
                except StorageError as error:
                    failures.append(error)
                    group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            for index in range(len(sources)):
                group.start_soon(copy, index)
        if failures:
            raise failures[0]
        return etags


class _PartWriter:
    """One append: observes each chunk (in a worker thread, in order), uploads a part whenever
    the tail and the new bytes reach the part size, and leaves the rest as a tail segment."""

    def __init__(
        self,
        store: S3BlobStore,
        upload_id: str,
        session: _Session,
        observe: ChunkObserver | None,
    ) -> None:
        self.store, self.upload_id, self.session, self.observe = store, upload_id, session, observe
        self.token = _new_token()
        self.unobserved: list[bytes] = []
        self.unobserved_size = 0
        self.pending: list[bytes] = []
        self.pending_size = 0

    async def add(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.unobserved.append(chunk)
        self.unobserved_size += len(chunk)
        if self.unobserved_size >= PIECE_SIZE:
            await self._observe()
        tail_size = sum(piece.size for piece in self.session.tail)
        if tail_size + self.pending_size + self.unobserved_size >= self.session.part_target():
            await self._write_part()

    async def finish(self) -> None:
        await self._observe()
        if not self.pending:
            return
        segments: list[bytes] = []
        if len(self.session.tail) >= _MAX_TAIL_SEGMENTS:
            segments = await self.store._read_tail(self.upload_id, self.session)
            self.session.retire_tail()
        self.session.tail.append(await self._write("tail", self._take(segments)))

    async def _observe(self) -> None:
        chunks, self.unobserved, self.unobserved_size = self.unobserved, [], 0
        if self.observe is not None and chunks:
            await to_thread.run_sync(_observe_all, self.observe, chunks)
        self.pending += chunks
        self.pending_size += sum(map(len, chunks))

    async def _write_part(self) -> None:
        if len(self.session.parts) >= _MAX_PARTS - 1:
            raise StorageError(f"upload {self.upload_id!r} is too large for one S3 object")
        await self._observe()
        body = self._take(await self.store._read_tail(self.upload_id, self.session))
        self.session.parts.append(await self._write("part", body))
        self.session.retire_tail()

    async def _write(self, kind: str, body: bytes) -> _Piece:
        piece = _Piece(self.session.new_name(kind, self.token), len(body))
        await self.store._put(self.store._upload_object(self.upload_id, piece.name), body)
        return piece

    def _take(self, before: list[bytes]) -> bytes:
        """The pending bytes (after ``before``) as one body; pending is emptied first."""
        pending, self.pending, self.pending_size = self.pending, [], 0
        before += pending
        pending.clear()
        return b"".join(before)


async def _read_body(body: Any, what: str) -> bytes:
    """Up to PIECE_SIZE bytes of a response body; b"" at its end."""
    try:
        return bytes(await body.read(PIECE_SIZE))
    except Exception as error:  # botocore's or aiohttp's: the body could not be read to its end
        raise StorageError(f"reading {what} from S3 failed: {error}") from None


def _check_upload_id(upload_id: str) -> None:
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise StorageError(f"invalid upload id {upload_id[:200]!r}")


def _observe_all(observe: ChunkObserver, chunks: list[bytes]) -> None:
    for chunk in chunks:
        observe(chunk)
