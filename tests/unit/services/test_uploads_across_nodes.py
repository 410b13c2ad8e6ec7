"""Two nodes' upload services on one database and one store: racing appends to one upload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio
import pytest

from berth.errors import DigestInvalidError, RangeInvalidError
from berth.meta.base import MetaStore, Repository
from berth.services import uploads as uploads_module
from berth.services.uploads import UploadService
from berth.storage.memory import MemoryBlobStore
from berth.types import Digest


def _now() -> datetime:
    return datetime.now(UTC)


async def _chunks(*pieces: bytes, wait: anyio.Event | None = None) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece
        if wait is not None:
            await wait.wait()


async def test_the_later_of_two_racing_appends_is_refused_and_the_blob_stays_true(
    meta: MetaStore,
) -> None:
    store = MemoryBlobStore()
    node_a, node_b = UploadService(meta, store, _now), UploadService(meta, store, _now)
    async with meta.transaction() as tx:
        repository = await tx.repositories.create(Repository(0, "web", _now()))
    upload = await node_a.start(repository)
    mine, theirs = b"a" * 1000, b"b" * 1000
    release = anyio.Event()
    refused: list[RangeInvalidError] = []

    async def slow_append_on_a() -> None:
        try:
            await node_a.append(repository, upload.id, _chunks(mine, wait=release), start=0)
        except RangeInvalidError as error:
            refused.append(error)

    async with anyio.create_task_group() as group:
        group.start_soon(slow_append_on_a)
        await anyio.sleep(0.05)
        await node_b.append(repository, upload.id, _chunks(theirs), start=0)
        release.set()
    assert refused and refused[0].detail == {"size": 1000}

    with pytest.raises(DigestInvalidError):  # A's hash of its own bytes must not be believed
        await node_a.complete(repository, upload.id, _digest(mine))
    second = await node_a.start(repository)
    await node_b.append(repository, second.id, _chunks(theirs), start=0)
    blob = await node_a.complete(repository, second.id, _digest(theirs))
    assert blob.size == 1000


def _digest(data: bytes) -> Digest:
    return Digest.of(data)


async def test_a_node_keeps_no_lock_and_few_hashes_for_uploads_finished_elsewhere(
    meta: MetaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads_module, "_KEPT_HASHES", 3)
    store = MemoryBlobStore()
    node_a, node_b = UploadService(meta, store, _now), UploadService(meta, store, _now)
    async with meta.transaction() as tx:
        repository = await tx.repositories.create(Repository(0, "web", _now()))
    for number in range(5):
        data = f"layer {number}".encode()
        upload = await node_a.start(repository)
        await node_a.append(repository, upload.id, _chunks(data[:3]), start=0)
        await node_b.append(repository, upload.id, _chunks(data[3:]), start=3)
        await node_b.complete(repository, upload.id, _digest(data))
    assert node_a._locks == {} and node_b._locks == {}
    assert len(node_a._hashing) == 3
