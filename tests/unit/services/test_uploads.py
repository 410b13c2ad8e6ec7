"""UploadService.blob keeps a checked blob's link alive: a client that finds a blob skips its
upload, and its manifest may come a grace period later."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import pytest

from berth.errors import BlobUnknownError
from berth.meta.base import MetaStore, Repository, Transaction
from berth.services.gc import GarbageCollector
from berth.services.uploads import LINK_REFRESH_AFTER, UploadService
from berth.storage.memory import MemoryBlobStore
from berth.types import Digest

T0 = datetime(2025, 3, 1, tzinfo=UTC)
GRACE = timedelta(days=1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Writes:
    """Counts the write transactions a store opens."""

    def __init__(self, meta: MetaStore) -> None:
        self.count = 0
        self._transaction = meta.transaction

    def __call__(self) -> AbstractAsyncContextManager[Transaction]:
        self.count += 1
        return self._transaction()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _push(uploads: UploadService, repository: Repository, data: bytes) -> Digest:
    digest = Digest.of(data)
    await uploads.upload_whole(repository, digest, _once(data))
    return digest


async def _linked_at(meta: MetaStore, repository: Repository, digest: Digest) -> datetime | None:
    async with meta.read() as tx:
        link = await tx.blobs.get_link(repository.id, str(digest))
    return None if link is None else link.linked_at


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def repository(meta: MetaStore) -> Repository:
    async with meta.transaction() as tx:
        return await tx.repositories.create(Repository(0, "web", T0))


def _services(
    meta: MetaStore, clock: Callable[[], datetime]
) -> tuple[UploadService, GarbageCollector]:
    store = MemoryBlobStore()
    return UploadService(meta, store, clock), GarbageCollector(meta, store, clock, GRACE)


async def test_a_checked_stale_link_is_refreshed_and_survives_gc(
    meta: MetaStore, clock: Clock, repository: Repository
) -> None:
    uploads, gc = _services(meta, clock)
    digest = await _push(uploads, repository, b"pushed, manifest failed")
    clock.now = T0 + GRACE - timedelta(hours=1)

    blob = await uploads.blob(repository, digest)

    assert blob.digest == str(digest)
    assert await _linked_at(meta, repository, digest) == clock.now
    clock.now = T0 + GRACE + timedelta(hours=1)
    report = await gc.run()
    assert (report.links_dropped, report.removed) == (0, [])
    assert (await uploads.blob(repository, digest)).digest == str(digest)


async def test_gc_still_drops_a_stale_link_nobody_checked(
    meta: MetaStore, clock: Clock, repository: Repository
) -> None:
    uploads, gc = _services(meta, clock)
    checked = await _push(uploads, repository, b"checked a day later")
    forgotten = await _push(uploads, repository, b"never checked again")
    clock.now = T0 + GRACE - timedelta(hours=1)
    await uploads.blob(repository, checked)
    clock.now = T0 + GRACE + timedelta(seconds=1)

    report = await gc.run()

    assert report.links_dropped == 1
    assert [digest for digest, _ in report.removed] == [str(forgotten)]
    with pytest.raises(BlobUnknownError):
        await uploads.blob(repository, forgotten)
    assert await _linked_at(meta, repository, checked) == T0 + GRACE - timedelta(hours=1)


async def test_a_fresh_link_is_not_written(
    meta: MetaStore, clock: Clock, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads, _ = _services(meta, clock)
    digest = await _push(uploads, repository, b"just pushed")
    writes = Writes(meta)
    monkeypatch.setattr(meta, "transaction", writes)
    clock.now = T0 + LINK_REFRESH_AFTER - timedelta(seconds=1)

    for _ in range(3):
        await uploads.blob(repository, digest)

    assert writes.count == 0
    assert await _linked_at(meta, repository, digest) == T0
    clock.now = T0 + LINK_REFRESH_AFTER + timedelta(seconds=1)
    await uploads.blob(repository, digest)
    await uploads.blob(repository, digest)
    assert writes.count == 1


async def test_a_stale_link_another_node_dropped_is_unknown(
    meta: MetaStore, clock: Clock, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This node's cache still holds the link when the refresh finds it gone: a 404, not a 200."""
    uploads, gc = _services(meta, clock)
    digest = await _push(uploads, repository, b"read, then dropped elsewhere")
    monkeypatch.setattr(meta, "generation", lambda tables=(): "not seen yet")
    await uploads.blob(repository, digest)
    clock.now = T0 + GRACE + timedelta(seconds=1)
    assert (await gc.run()).links_dropped == 1
    with pytest.raises(BlobUnknownError):
        await uploads.blob(repository, digest)


async def test_a_zero_refresh_interval_never_writes(
    meta: MetaStore, clock: Clock, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads = UploadService(meta, MemoryBlobStore(), clock, refresh_links_after=timedelta(0))
    digest = await _push(uploads, repository, b"zero grace")
    writes = Writes(meta)
    monkeypatch.setattr(meta, "transaction", writes)
    clock.now = T0 + GRACE
    await uploads.blob(repository, digest)
    assert writes.count == 0
