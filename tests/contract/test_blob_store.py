"""The BlobStore contract: every driver runs this one suite (add a driver as a ``store`` param)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import tracemalloc
import urllib.request
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from berth.errors import StorageError, StorageNotFoundError
from berth.storage import (
    BlobStore,
    FilesystemBlobStore,
    MemoryBlobStore,
    S3BlobStore,
    UploadState,
    open_blob_store,
)
from berth.storage.layout import blob_key, upload_key
from berth.types import Digest
from seaweedfs import SeaweedFS

MIB = 1 << 20


@pytest.fixture(params=["memory", "filesystem", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    match request.param:
        case "memory":
            yield open_blob_store("memory")
        case "filesystem":
            yield open_blob_store("filesystem", root=tmp_path / "store")
        case "s3":
            bucket = request.getfixturevalue("s3_bucket")
            options = request.getfixturevalue("seaweedfs").store_options(bucket)
            s3 = open_blob_store("s3", **options)
            assert isinstance(s3, S3BlobStore)
            async with s3:
                yield s3


async def stream(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        await anyio.lowlevel.checkpoint()
        yield part


async def read_all(pieces: AsyncIterable[bytes]) -> bytes:
    return b"".join([piece async for piece in pieces])


async def push(store: BlobStore, upload_id: str, data: bytes) -> Digest:
    state = await store.start_upload(upload_id)
    state = await store.append_upload(upload_id, state, stream([data]))
    digest = Digest.of(data)
    await store.commit_upload(upload_id, state, digest)
    await store.abort_upload(upload_id, state)
    return digest


def pattern(size: int, seed: int = 0) -> bytes:
    period = bytes((seed + i * 7) % 251 for i in range(251))
    return (period * (size // 251 + 1))[:size]


async def test_implements_the_protocol(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)
    await store.check()


async def test_upload_in_several_requests_then_read_back(store: BlobStore) -> None:
    data = pattern(3 * MIB + 123)
    state = await store.start_upload("u1")
    assert state.size == 0
    for start in range(0, len(data), MIB + 1):
        piece = data[start : start + MIB + 1]
        state = await store.append_upload("u1", state, stream([piece[:100], piece[100:]]))
        assert state.size == min(start + MIB + 1, len(data))
    digest = Digest.of(data)
    assert await store.blob_size(digest) is None
    await store.commit_upload("u1", state, digest)
    assert await store.blob_size(digest) == len(data)
    assert await read_all(store.read_blob(digest)) == data
    assert [d async for d in store.list_blobs()] == [digest]


async def test_empty_upload(store: BlobStore) -> None:
    state = await store.start_upload("empty")
    state = await store.append_upload("empty", state, stream([]))
    assert state.size == 0
    digest = Digest.of(b"")
    await store.commit_upload("empty", state, digest)
    assert await store.blob_size(digest) == 0
    assert await read_all(store.read_blob(digest)) == b""


async def test_observe_sees_every_byte_in_order(store: BlobStore) -> None:
    parts = [pattern(size, seed) for seed, size in enumerate([1, 0, 700_000, 5, 2 * MIB, 0, 3])]
    seen: list[bytes] = []
    state = await store.start_upload("obs")
    state = await store.append_upload("obs", state, stream(parts[:3]), seen.append)
    state = await store.append_upload("obs", state, stream(parts[3:]), seen.append)
    assert b"".join(seen) == b"".join(parts)
    assert state.size == sum(map(len, parts))


async def test_read_ranges(store: BlobStore) -> None:
    data = pattern(2 * MIB + 10)
    digest = await push(store, "ranges", data)

    async def read(start: int = 0, end: int | None = None) -> bytes:
        return await read_all(store.read_blob(digest, start, end))

    assert await read(10) == data[10:]
    assert await read(0, 10) == data[:10]
    assert await read(MIB - 5, MIB + 5) == data[MIB - 5 : MIB + 5]
    assert await read(7, 7) == b""
    assert await read(9, 3) == b""
    assert await read(len(data) - 4, len(data) + 100) == data[-4:]
    assert await read(len(data) + 1) == b""
    assert max([len(piece) async for piece in store.read_blob(digest)]) <= MIB


async def test_missing_blob(store: BlobStore) -> None:
    digest = Digest.of(b"never stored")
    assert await store.blob_size(digest) is None
    assert store.local_path(digest) is None
    with pytest.raises(StorageNotFoundError):
        await read_all(store.read_blob(digest))


async def test_local_path_and_presigned_url(store: BlobStore) -> None:
    digest = await push(store, "paths", b"layer")
    path = store.local_path(digest)
    if isinstance(store, FilesystemBlobStore):
        assert path is not None
        assert path.read_bytes() == b"layer"
        assert path.relative_to(store.root).as_posix() == blob_key(digest)
    else:
        assert path is None
    url = await store.presigned_url(digest, 60)
    assert (url is not None) == isinstance(store, S3BlobStore)


async def test_commit_when_blob_exists_writes_nothing_and_keeps_the_upload(
    store: BlobStore,
) -> None:
    digest = await push(store, "first", b"same bytes")
    state = await store.start_upload("second")
    state = await store.append_upload("second", state, stream([b"same bytes"]))
    await store.commit_upload("second", state, digest)
    await store.commit_upload("second", state, digest)
    assert await read_all(store.read_blob(digest)) == b"same bytes"
    assert [u.upload_id async for u in store.list_uploads()] == ["second"]
    await store.abort_upload("second", state)
    assert await read_all(store.read_blob(digest)) == b"same bytes"


async def test_a_kept_upload_puts_a_deleted_blob_back(store: BlobStore) -> None:
    data = pattern(6 * MIB + 7)
    state = await store.start_upload("kept")
    state = await store.append_upload("kept", state, stream([data]))
    digest = Digest.of(data)
    await store.commit_upload("kept", state, digest)
    await store.delete_blob(digest)
    await store.commit_upload("kept", state, digest)
    await store.abort_upload("kept", state)
    assert await read_all(store.read_blob(digest)) == data


async def test_a_committed_upload_cannot_change_its_blob(store: BlobStore) -> None:
    state = await store.start_upload("sealed")
    state = await store.append_upload("sealed", state, stream([b"final"]))
    digest = Digest.of(b"final")
    await store.commit_upload("sealed", state, digest)
    with contextlib.suppress(StorageNotFoundError):  # the filesystem refuses: it is the blob
        await store.append_upload("sealed", state, stream([b" and more"]))
    assert await read_all(store.read_blob(digest)) == b"final"
    await store.abort_upload("sealed", state)
    assert await read_all(store.read_blob(digest)) == b"final"


async def test_commit_of_missing_upload_is_not_found(store: BlobStore) -> None:
    with pytest.raises(StorageNotFoundError):
        await store.commit_upload("ghost", UploadState(size=0), Digest.of(b"ghost"))


async def test_abort_removes_upload(store: BlobStore) -> None:
    state = await store.start_upload("gone")
    state = await store.append_upload("gone", state, stream([b"abc"]))
    await store.abort_upload("gone", state)
    await store.abort_upload("gone", state)
    with pytest.raises(StorageNotFoundError):
        await read_all(store.read_upload("gone", state))
    with pytest.raises(StorageNotFoundError):
        await store.append_upload("gone", UploadState(), stream([b"x"]))
    with pytest.raises(StorageNotFoundError):
        await store.commit_upload("gone", state, Digest.of(b"abc"))


async def test_start_refuses_an_id_in_use(store: BlobStore) -> None:
    await store.start_upload("twice")
    with pytest.raises(StorageError):
        await store.start_upload("twice")


async def test_list_and_delete_blobs(store: BlobStore) -> None:
    digests = [await push(store, f"u{i}", pattern(100, i)) for i in range(5)]
    assert sorted(map(str, [d async for d in store.list_blobs()])) == sorted(map(str, digests))
    await store.delete_blob(digests[0])
    await store.delete_blob(digests[0])
    assert await store.blob_size(digests[0]) is None
    assert {d async for d in store.list_blobs()} == set(digests[1:])


async def test_list_uploads_names_each_held_upload_with_its_last_write(store: BlobStore) -> None:
    assert [u async for u in store.list_uploads()] == []
    before = datetime.now(UTC) - timedelta(seconds=2)
    states = {name: await store.start_upload(name) for name in ("b-second", "a-first", "c-gone")}
    states["a-first"] = await store.append_upload(
        "a-first", states["a-first"], stream([pattern(6 * MIB), b"tail"])
    )
    await store.abort_upload("c-gone", UploadState())
    after = datetime.now(UTC) + timedelta(seconds=2)
    listed = [u async for u in store.list_uploads()]
    assert [u.upload_id for u in listed] == ["a-first", "b-second"]
    assert all(before <= u.modified <= after for u in listed)
    await store.commit_upload("a-first", states["a-first"], Digest.of(pattern(6 * MIB) + b"tail"))
    await store.abort_upload("a-first", UploadState())
    assert [u.upload_id async for u in store.list_uploads()] == ["b-second"]


async def test_abort_needs_no_state(store: BlobStore) -> None:
    state = await store.start_upload("stateless")
    await store.append_upload("stateless", state, stream([pattern(6 * MIB), b"more"]))
    await store.abort_upload("stateless", UploadState())
    assert [u async for u in store.list_uploads()] == []


async def test_purge_incomplete_leaves_committed_blobs(store: BlobStore) -> None:
    digest = await push(store, "kept", pattern(11 * MIB))
    assert await store.purge_incomplete(datetime.now(UTC) + timedelta(hours=1)) == 0
    assert await store.blob_size(digest) == 11 * MIB


async def test_uploads_are_not_blobs(store: BlobStore) -> None:
    state = await store.start_upload("pending")
    await store.append_upload("pending", state, stream([b"not yet"]))
    assert [d async for d in store.list_blobs()] == []
    assert await store.blob_size(Digest.of(b"not yet")) is None


async def test_read_upload_returns_appended_bytes(store: BlobStore) -> None:
    state = await store.start_upload("reread")
    assert await read_all(store.read_upload("reread", state)) == b""
    state = await store.append_upload("reread", state, stream([pattern(MIB), b"tail"]))
    assert await read_all(store.read_upload("reread", state)) == pattern(MIB) + b"tail"
    first_ten = UploadState(size=10, backend=state.backend)
    assert await read_all(store.read_upload("reread", first_ten)) == pattern(10)


async def failing(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    async for part in stream(parts):
        yield part
    raise OSError("client went away")


async def test_failed_append_leaves_only_acknowledged_bytes(store: BlobStore) -> None:
    state = await store.start_upload("broken")
    state = await store.append_upload("broken", state, stream([b"acknowledged"]))
    with pytest.raises(OSError, match="client went away"):
        await store.append_upload("broken", state, failing([pattern(MIB)] * 3))
    assert await read_all(store.read_upload("broken", state)) == b"acknowledged"
    state = await store.append_upload("broken", state, stream([b"+more"]))
    assert state.size == len(b"acknowledged+more")
    digest = Digest.of(b"acknowledged+more")
    await store.commit_upload("broken", state, digest)
    assert await read_all(store.read_blob(digest)) == b"acknowledged+more"


async def test_commit_ignores_unacknowledged_bytes(store: BlobStore) -> None:
    state = await store.start_upload("late")
    state = await store.append_upload("late", state, stream([b"kept"]))
    with pytest.raises(OSError, match="client went away"):
        await store.append_upload("late", state, failing([b"x" * (2 * MIB)]))
    await store.commit_upload("late", state, Digest.of(b"kept"))
    assert await read_all(store.read_blob(Digest.of(b"kept"))) == b"kept"


async def test_filesystem_drops_bytes_a_crashed_write_left(store: BlobStore) -> None:
    if not isinstance(store, FilesystemBlobStore):
        pytest.skip("a crash mid-write is a filesystem concern")
    state = await store.start_upload("crash")
    state = await store.append_upload("crash", state, stream([b"durable"]))
    with (store.root / upload_key("crash")).open("ab") as file:
        file.write(b"garbage from a request that died")
    state = await store.append_upload("crash", state, stream([b"!"]))
    assert await read_all(store.read_upload("crash", state)) == b"durable!"
    assert (store.root / upload_key("crash")).stat().st_size == len(b"durable!")


async def test_filesystem_reports_an_unusable_root(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"not a folder")
    store = open_blob_store("filesystem", root=tmp_path / "file")
    with pytest.raises(StorageError, match="not writable"):
        await store.check()
    with pytest.raises(StorageError, match="blob storage failed"):
        await store.start_upload("u")


@pytest.mark.parametrize(
    "upload_id", ["../escape", "a/b", "", ".", "..", "x" * 129, "a\x00b", "abc\n"]
)
async def test_unsafe_upload_id_is_refused(store: BlobStore, upload_id: str) -> None:
    with pytest.raises(StorageError, match="invalid upload id"):
        await store.start_upload(upload_id)
    with pytest.raises(StorageError, match="invalid upload id"):
        await store.append_upload(upload_id, UploadState(), stream([b"x"]))
    with pytest.raises(StorageError, match="invalid upload id"):
        await read_all(store.read_upload(upload_id, UploadState()))
    with pytest.raises(StorageError, match="invalid upload id"):
        await store.commit_upload(upload_id, UploadState(), Digest.of(b""))
    with pytest.raises(StorageError, match="invalid upload id"):
        await store.abort_upload(upload_id, UploadState())


async def test_concurrent_appends_to_different_uploads(store: BlobStore) -> None:
    blobs = {f"c{i}": pattern(MIB + 1000 * i, i) for i in range(6)}

    async def upload(upload_id: str, data: bytes) -> None:
        state = await store.start_upload(upload_id)
        half = len(data) // 2
        for part in (data[:half], data[half:]):
            pieces = [part[i : i + 65536] for i in range(0, len(part), 65536)]
            state = await store.append_upload(upload_id, state, stream(pieces))
        await store.commit_upload(upload_id, state, Digest.of(data))

    async with anyio.create_task_group() as group:
        for upload_id, data in blobs.items():
            group.start_soon(upload, upload_id, data)
    for data in blobs.values():
        assert await read_all(store.read_blob(Digest.of(data))) == data


async def test_large_stream_keeps_memory_flat(store: BlobStore) -> None:
    if isinstance(store, MemoryBlobStore):
        pytest.skip("the memory driver holds every byte by design")
    total, piece = 64 * MIB, 64 * 1024

    async def generate() -> AsyncIterator[bytes]:
        for i in range(total // piece):
            yield bytes([i % 251]) * piece

    hasher = hashlib.sha256()
    tracemalloc.start()
    try:
        state = await store.start_upload("big")
        state = await store.append_upload("big", state, generate(), hasher.update)
        digest = Digest("sha256", hasher.hexdigest())
        await store.commit_upload("big", state, digest)
        reread = hashlib.sha256()
        async for chunk in store.read_blob(digest):
            reread.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert state.size == total
    assert reread.hexdigest() == digest.hex
    assert peak < 16 * MIB


def test_unknown_driver_is_an_error() -> None:
    message = "unknown storage driver 'filesytem'; known: filesystem, memory, s3"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        open_blob_store("filesytem", root="/tmp")


# -- the s3 driver beyond the contract -------------------------------------------------------------


@pytest.fixture
async def s3_options(seaweedfs: SeaweedFS, s3_bucket: str) -> dict[str, str]:
    return seaweedfs.store_options(s3_bucket)


@pytest.fixture
async def s3_store(s3_options: dict[str, str]) -> AsyncIterator[S3BlobStore]:
    async with S3BlobStore(**s3_options) as store:
        yield store


def as_persisted(state: UploadState) -> UploadState:
    """The state as another node reads it back from the metadata store."""
    return UploadState(state.size, json.loads(json.dumps(state.backend)))


def upload_objects(seaweedfs: SeaweedFS, bucket: str) -> list[str]:
    listing = seaweedfs.client().list_objects_v2(Bucket=bucket, Prefix="uploads/")
    return [entry["Key"] for entry in listing.get("Contents", [])]


def multipart_uploads(seaweedfs: SeaweedFS, bucket: str) -> list[str]:
    listing = seaweedfs.client().list_multipart_uploads(Bucket=bucket)
    return [entry["Key"] for entry in listing.get("Uploads", [])]


async def test_s3_chunked_upload_continues_on_another_node(
    seaweedfs: SeaweedFS, s3_bucket: str, s3_options: dict[str, str]
) -> None:
    patches = [pattern(100_000 + 997 * i, i) for i in range(60)]
    patches += [pattern(7 * MIB, 60), pattern(6 * MIB + 5, 61), b"!"]
    data, hasher = b"".join(patches), hashlib.sha256()
    async with S3BlobStore(**s3_options) as node_a, S3BlobStore(**s3_options) as node_b:
        state = await node_a.start_upload("hop")
        for number, patch in enumerate(patches):
            node = (node_a, node_b)[number % 2]
            pieces = [patch[i : i + 65536] for i in range(0, len(patch), 65536)]
            state = await node.append_upload(
                "hop", as_persisted(state), stream(pieces), hasher.update
            )
            assert state.size == sum(map(len, patches[: number + 1]))
            assert all(size >= 5 * MIB for _, size in state.backend["parts"])
            assert len(state.backend["tail"]) <= 16
        assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()
        assert await read_all(node_b.read_upload("hop", as_persisted(state))) == data
        await node_b.commit_upload("hop", as_persisted(state), Digest.of(data))
        await node_b.abort_upload("hop", as_persisted(state))
        assert await read_all(node_a.read_blob(Digest.of(data))) == data
    assert multipart_uploads(seaweedfs, s3_bucket) == []
    assert upload_objects(seaweedfs, s3_bucket) == []


async def test_s3_presigned_url_serves_the_blob(s3_store: S3BlobStore) -> None:
    data = pattern(300_000)
    digest = await push(s3_store, "signed", data)
    url = await s3_store.presigned_url(digest, 60)
    assert url is not None
    assert "X-Amz-Signature=" in url

    def fetch() -> bytes:
        with urllib.request.urlopen(url, timeout=10) as response:
            body: bytes = response.read()
            return body

    assert await anyio.to_thread.run_sync(fetch) == data


async def test_s3_commit_of_many_parts_leaves_no_multipart_upload(
    seaweedfs: SeaweedFS, s3_bucket: str, s3_store: S3BlobStore
) -> None:
    data = pattern(11 * MIB + 3)
    state = await s3_store.start_upload("parts")
    state = await s3_store.append_upload("parts", state, stream([data[:MIB]]))
    with pytest.raises(OSError, match="client went away"):
        await s3_store.append_upload("parts", state, failing([pattern(6 * MIB, 9)]))
    rest = [data[i : i + 65536] for i in range(MIB, len(data), 65536)]
    state = await s3_store.append_upload("parts", state, stream(rest))
    assert [size for _, size in state.backend["parts"]] == [5 * MIB, 5 * MIB]
    await s3_store.commit_upload("parts", state, Digest.of(data))
    assert await read_all(s3_store.read_blob(Digest.of(data))) == data
    assert multipart_uploads(seaweedfs, s3_bucket) == []
    await s3_store.abort_upload("parts", state)
    assert upload_objects(seaweedfs, s3_bucket) == []


async def test_s3_abort_removes_tail_and_orphaned_objects(
    seaweedfs: SeaweedFS, s3_bucket: str, s3_store: S3BlobStore
) -> None:
    state = await s3_store.start_upload("dropped")
    for seed in range(3):
        state = await s3_store.append_upload("dropped", state, stream([pattern(1000, seed)]))
    with pytest.raises(OSError, match="client went away"):
        await s3_store.append_upload("dropped", state, failing([pattern(6 * MIB)]))
    assert len(upload_objects(seaweedfs, s3_bucket)) == 5
    await s3_store.abort_upload("dropped", state)
    assert upload_objects(seaweedfs, s3_bucket) == []
    assert multipart_uploads(seaweedfs, s3_bucket) == []


async def test_s3_prefix_keeps_every_key_under_it(
    seaweedfs: SeaweedFS, s3_bucket: str, s3_options: dict[str, str]
) -> None:
    async with S3BlobStore(**{**s3_options, "prefix": "/team/registry/"}) as store:
        digest = await push(store, "prefixed", b"under a prefix")
        assert [d async for d in store.list_blobs()] == [digest]
    listing = seaweedfs.client().list_objects_v2(Bucket=s3_bucket)
    assert [entry["Key"] for entry in listing["Contents"]] == [f"team/registry/{blob_key(digest)}"]
    async with S3BlobStore(**s3_options) as unprefixed:
        assert [d async for d in unprefixed.list_blobs()] == []


async def test_s3_failures_are_storage_errors(
    seaweedfs: SeaweedFS, s3_options: dict[str, str]
) -> None:
    async with S3BlobStore(**{**s3_options, "bucket": "berth-no-such-bucket"}) as missing:
        with pytest.raises(StorageError, match="HeadBucket") as caught:
            await missing.check()
        assert type(caught.value) is StorageError
        assert caught.value.__cause__ is None
    async with S3BlobStore(**{**s3_options, "secret_access_key": "wrong"}) as refused:
        with pytest.raises(StorageError, match=r"SignatureDoesNotMatch|AccessDenied"):
            await refused.start_upload("refused")
    async with S3BlobStore(**{**s3_options, "endpoint": "http://127.0.0.1:9"}) as unreachable:
        with pytest.raises(StorageError, match="HeadBucket"):
            await unreachable.check()


async def test_s3_failed_commit_leaves_no_multipart_upload(
    seaweedfs: SeaweedFS, s3_bucket: str, s3_store: S3BlobStore
) -> None:
    data = pattern(11 * MIB)
    state = await s3_store.start_upload("broken")
    pieces = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    state = await s3_store.append_upload("broken", state, stream(pieces))
    lost = state.backend["parts"][1][0]
    seaweedfs.client().delete_object(Bucket=s3_bucket, Key=f"uploads/broken/{lost}")
    with pytest.raises(StorageError):
        await s3_store.commit_upload("broken", state, Digest.of(data))
    assert multipart_uploads(seaweedfs, s3_bucket) == []
    assert await s3_store.blob_size(Digest.of(data)) is None


async def test_s3_purges_a_multipart_upload_a_dead_commit_left(
    seaweedfs: SeaweedFS, s3_bucket: str, s3_store: S3BlobStore
) -> None:
    client = seaweedfs.client()
    key = blob_key(Digest.of(b"never finished"))
    client.create_multipart_upload(Bucket=s3_bucket, Key=key)
    client.create_multipart_upload(Bucket=s3_bucket, Key=upload_key("not-a-blob"))
    assert await s3_store.purge_incomplete(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert sorted(multipart_uploads(seaweedfs, s3_bucket)) == sorted(
        [key, upload_key("not-a-blob")]
    )
    assert await s3_store.purge_incomplete(datetime.now(UTC) + timedelta(minutes=1)) == 1
    assert multipart_uploads(seaweedfs, s3_bucket) == [upload_key("not-a-blob")]


async def test_s3_cancelled_append_counts_nothing(s3_store: S3BlobStore) -> None:
    state = await s3_store.start_upload("cut")
    state = await s3_store.append_upload("cut", state, stream([b"kept"]))

    async def endless() -> AsyncIterator[bytes]:
        while True:
            await anyio.lowlevel.checkpoint()
            yield pattern(65536)

    with anyio.move_on_after(1):
        await s3_store.append_upload("cut", state, endless())
    state = await s3_store.append_upload("cut", state, stream([b"+more"]))
    await s3_store.commit_upload("cut", state, Digest.of(b"kept+more"))
    assert await read_all(s3_store.read_blob(Digest.of(b"kept+more"))) == b"kept+more"
