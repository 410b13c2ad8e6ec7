"""The MetaStore contract for background work, on SQLite and PostgreSQL: cluster-wide job locks,
blob-link times, and the row locks that keep garbage collection and pushes apart.

Two stores over one database stand for two nodes (or two worker processes on one SQLite file).
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from berth.meta.base import (
    Manifest,
    MetaStore,
    Reference,
    ReferenceKind,
    Repository,
    Transaction,
    Upload,
)
from berth.meta.sql import open_meta_store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
BLOCKED = 0.3
"""How long a transaction that should be waiting for a lock is watched."""


@pytest.fixture
async def nodes(database_url: str) -> AsyncIterator[tuple[MetaStore, MetaStore]]:
    first = await open_meta_store(database_url)
    second = await open_meta_store(database_url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def digest(seed: str | int) -> str:
    return "sha256:" + hashlib.sha256(str(seed).encode()).hexdigest()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def manifest(repository_id: int, seed: str) -> Manifest:
    body = f'{{"schemaVersion":2,"seed":"{seed}"}}'.encode()
    return Manifest(
        repository_id, "sha256:" + hashlib.sha256(body).hexdigest(), OCI_MANIFEST, len(body),
        body, T0,
    )  # fmt: skip


async def new_repository(tx: Transaction, name: str = "web") -> Repository:
    return await tx.repositories.create(Repository(id=0, name=name, created_at=T0))


async def linked_blob(store: MetaStore, seed: str, when: datetime = T0) -> Repository:
    async with store.transaction() as tx:
        repository = await tx.repositories.get("web") or await new_repository(tx)
        await tx.blobs.put(digest(seed), 10, when)
        await tx.blobs.link(repository.id, digest(seed), when)
    return repository


async def still_waiting(task: asyncio.Task[object]) -> bool:
    await asyncio.sleep(BLOCKED)
    return not task.done()


# -- the job lock ---------------------------------------------------------------------------------


async def test_exclusive_admits_one_holder_at_a_time(
    nodes: tuple[MetaStore, MetaStore],
) -> None:
    first, second = nodes
    async with first.exclusive("gc") as held:
        assert held is True
        async with second.exclusive("gc") as other:
            assert other is False
        async with first.exclusive("gc") as again:
            assert again is False
        async with second.exclusive("upload-expiry") as unrelated:
            assert unrelated is True
    async with second.exclusive("gc") as after:
        assert after is True


async def test_exclusive_is_released_when_the_block_fails(
    nodes: tuple[MetaStore, MetaStore],
) -> None:
    first, second = nodes
    with pytest.raises(RuntimeError):
        async with first.exclusive("gc") as held:
            assert held
            raise RuntimeError("the job failed")
    async with second.exclusive("gc") as taken:
        assert taken


async def test_a_holder_cancelled_while_it_lets_go_frees_the_lock_and_stays_cancelled(
    nodes: tuple[MetaStore, MetaStore],
) -> None:
    """The job loops are stopped with ``Task.cancel``; one that lands as a run lets go of its
    lock must neither leave the lock taken nor be lost (the loop would never end)."""
    first, second = nodes

    async def hold() -> None:
        me = asyncio.current_task()
        assert me is not None
        async with first.exclusive("gc") as held:
            assert held
            asyncio.get_running_loop().call_soon(me.cancel)  # lands while the lock is let go
        await asyncio.sleep(30)  # reached only if the cancellation was swallowed

    holder = asyncio.create_task(hold())
    done, _ = await asyncio.wait([holder], timeout=10)
    if not done:
        holder.cancel()
    assert holder in done, "the cancellation was lost while the lock was let go"
    assert holder.cancelled()
    async with second.exclusive("gc") as taken:
        assert taken


async def test_exclusive_many_contenders_one_winner(nodes: tuple[MetaStore, MetaStore]) -> None:
    inside = 0
    most = 0
    wins = 0

    async def contend(store: MetaStore) -> None:
        nonlocal inside, most, wins
        async with store.exclusive("gc") as held:
            if held:
                wins += 1
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.05)
                inside -= 1

    await asyncio.gather(*(contend(nodes[n % 2]) for n in range(10)))
    assert most == 1
    assert wins >= 1


async def test_exclusive_lapses_when_its_holder_dies(
    nodes: tuple[MetaStore, MetaStore], database_url: str
) -> None:
    script = (
        "import asyncio, sys\n"
        "from berth.meta.sql import open_meta_store\n"
        "async def main():\n"
        "    store = await open_meta_store(sys.argv[1])\n"
        "    async with store.exclusive('gc', lease_seconds=1.0) as held:\n"
        "        print('held' if held else 'refused', flush=True)\n"
        "        await asyncio.sleep(120)\n"
        "asyncio.run(main())\n"
    )
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, database_url, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert (await holder.stdout.readline()).strip() == b"held"
        await asyncio.sleep(1.5)  # past the lease: the live holder renews it
        async with nodes[0].exclusive("gc") as taken:
            assert taken is False
        holder.send_signal(signal.SIGKILL)
        await holder.wait()
        deadline = time.monotonic() + 10
        while True:
            async with nodes[0].exclusive("gc") as taken:
                if taken:
                    break
            assert time.monotonic() < deadline, "the dead holder's lock never lapsed"
            await asyncio.sleep(0.1)
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()


# -- link times and stale links -------------------------------------------------------------------


async def test_link_times_and_stale_links(nodes: tuple[MetaStore, MetaStore]) -> None:
    store = nodes[0]
    repository = await linked_blob(store, "old", at(0))
    await linked_blob(store, "referenced", at(0))
    await linked_blob(store, "young", at(60))
    async with store.transaction() as tx:
        await tx.manifests.put(
            manifest(repository.id, "m"),
            [Reference(digest("referenced"), ReferenceKind.BLOB, 10)],
        )
    async with store.read() as tx:
        stale = await tx.blobs.stale_links(at(30), limit=10)
        assert stale == [(repository.id, digest("old"))]
        assert await tx.blobs.stale_links(at(30), limit=10, after=stale[0]) == []
        assert len(await tx.blobs.stale_links(at(90), limit=10)) == 2
    async with store.transaction() as tx:
        await tx.blobs.link(repository.id, digest("old"), at(45))  # linked again: young
    async with store.transaction() as tx:
        assert await tx.blobs.stale_links(at(30), limit=10) == []
        assert await tx.blobs.drop_stale_link(repository.id, digest("old"), at(30)) is False
        assert await tx.blobs.drop_stale_link(repository.id, digest("old"), at(50)) is True
        assert await tx.blobs.get_linked(repository.id, digest("old")) is None
        assert await tx.blobs.drop_stale_link(repository.id, digest("referenced"), at(90)) is False


async def test_refreshing_a_link_makes_it_young_and_never_makes_one(
    nodes: tuple[MetaStore, MetaStore],
) -> None:
    store = nodes[0]
    repository = await linked_blob(store, "old", at(0))
    async with store.read() as tx:
        link = await tx.blobs.get_link(repository.id, digest("old"))
        assert link is not None
        assert (link.blob.digest, link.blob.size, link.linked_at) == (digest("old"), 10, at(0))
        assert await tx.blobs.get_link(repository.id, digest("unknown")) is None
    async with store.transaction() as tx:
        assert await tx.blobs.refresh_link(repository.id, digest("old"), at(45)) is True
        assert await tx.blobs.refresh_link(repository.id, digest("unknown"), at(45)) is False
        await tx.blobs.put(digest("unlinked"), 10, at(0))
        assert await tx.blobs.refresh_link(repository.id, digest("unlinked"), at(45)) is False
    async with store.transaction() as tx:
        link = await tx.blobs.get_link(repository.id, digest("old"))
        assert link is not None and link.linked_at == at(45)
        assert await tx.blobs.get_link(repository.id, digest("unlinked")) is None
        assert await tx.blobs.stale_links(at(30), limit=10) == []
        assert await tx.blobs.drop_stale_link(repository.id, digest("old"), at(30)) is False


async def test_claim_unreferenced_and_missing(nodes: tuple[MetaStore, MetaStore]) -> None:
    store = nodes[0]
    repository = await linked_blob(store, "linked", at(0))
    async with store.transaction() as tx:
        await tx.blobs.put(digest("free"), 3, at(0))
        await tx.blobs.put(digest("young"), 3, at(60))
        await tx.blobs.put(digest("referenced"), 3, at(0))
        await tx.manifests.put(
            manifest(repository.id, "m"),
            [Reference(digest("referenced"), ReferenceKind.BLOB, 3)],
        )
    async with store.transaction() as tx:
        assert await tx.blobs.claim_unreferenced(digest("linked"), at(30)) is None
        assert await tx.blobs.claim_unreferenced(digest("young"), at(30)) is None
        assert await tx.blobs.claim_unreferenced(digest("referenced"), at(30)) is None
        assert await tx.blobs.claim_unreferenced(digest("nothing"), at(30)) is None
        claimed = await tx.blobs.claim_unreferenced(digest("free"), at(30))
        assert claimed is not None
        assert (claimed.digest, claimed.size) == (digest("free"), 3)
        assert await tx.blobs.missing([digest("free"), digest("x"), digest("y")]) == {
            digest("x"),
            digest("y"),
        }
        assert await tx.blobs.pin(digest("free")) == claimed
        assert await tx.blobs.pin(digest("x")) is None


async def test_upload_sessions_idle_count_existing(nodes: tuple[MetaStore, MetaStore]) -> None:
    store = nodes[0]
    async with store.transaction() as tx:
        repository = await new_repository(tx)
        await tx.uploads.create(Upload("idle", repository.id, 0, {}, at(0), at(0)))
        await tx.uploads.create(Upload("busy", repository.id, 0, {}, at(0), at(40)))
    async with store.transaction() as tx:
        assert await tx.uploads.count() == 2
        assert await tx.uploads.existing(["idle", "busy", "gone"]) == {"idle", "busy"}
        assert await tx.uploads.delete_if_idle("busy", at(30)) is False
        assert await tx.uploads.delete_if_idle("idle", at(30)) is True
        assert await tx.uploads.delete_if_idle("idle", at(30)) is False
        assert await tx.uploads.count() == 1


# -- garbage collection against pushes --------------------------------------------------------------


async def test_manifest_holding_a_link_keeps_it_from_the_collector(
    nodes: tuple[MetaStore, MetaStore],
) -> None:
    pusher, collector = nodes
    repository = await linked_blob(pusher, "layer", at(0))

    async def drop() -> bool:
        async with collector.transaction() as tx:
            return await tx.blobs.drop_stale_link(repository.id, digest("layer"), at(30))

    async with pusher.transaction() as tx:
        assert await tx.blobs.pin_linked(repository.id, digest("layer")) is not None
        dropping = asyncio.create_task(drop())
        assert await still_waiting(dropping)  # type: ignore[arg-type]
        await tx.manifests.put(
            manifest(repository.id, "m"), [Reference(digest("layer"), ReferenceKind.BLOB, 10)]
        )
    assert await dropping is False
    async with collector.read() as tx:
        assert await tx.blobs.get_linked(repository.id, digest("layer")) is not None


async def test_a_dropped_link_is_gone_for_a_waiting_manifest(
    nodes: tuple[MetaStore, MetaStore],
) -> None:
    pusher, collector = nodes
    repository = await linked_blob(pusher, "layer", at(0))

    async def pin() -> object:
        async with pusher.transaction() as tx:
            return await tx.blobs.pin_linked(repository.id, digest("layer"))

    async with collector.transaction() as tx:
        assert await tx.blobs.drop_stale_link(repository.id, digest("layer"), at(30))
        pinning = asyncio.create_task(pin())
        assert await still_waiting(pinning)
    assert await pinning is None


async def test_a_refresh_that_commits_first_keeps_the_link_from_the_collector(
    nodes: tuple[MetaStore, MetaStore],
) -> None:
    puller, collector = nodes
    repository = await linked_blob(puller, "layer", at(0))

    async def drop() -> bool:
        async with collector.transaction() as tx:
            return await tx.blobs.drop_stale_link(repository.id, digest("layer"), at(30))

    async with puller.transaction() as tx:
        assert await tx.blobs.refresh_link(repository.id, digest("layer"), at(45))
        dropping = asyncio.create_task(drop())
        assert await still_waiting(dropping)  # type: ignore[arg-type]
    assert await dropping is False
    async with collector.read() as tx:
        assert await tx.blobs.get_linked(repository.id, digest("layer")) is not None


async def test_a_refresh_waiting_on_a_dropped_link_finds_it_gone(
    nodes: tuple[MetaStore, MetaStore],
) -> None:
    puller, collector = nodes
    repository = await linked_blob(puller, "layer", at(0))

    async def refresh() -> bool:
        async with puller.transaction() as tx:
            return await tx.blobs.refresh_link(repository.id, digest("layer"), at(45))

    async with collector.transaction() as tx:
        assert await tx.blobs.drop_stale_link(repository.id, digest("layer"), at(30))
        refreshing = asyncio.create_task(refresh())
        assert await still_waiting(refreshing)  # type: ignore[arg-type]
    assert await refreshing is False
    async with puller.read() as tx:
        assert await tx.blobs.get_link(repository.id, digest("layer")) is None


async def test_a_blob_recorded_by_a_push_is_not_claimed(
    nodes: tuple[MetaStore, MetaStore],
) -> None:
    pusher, collector = nodes
    async with pusher.transaction() as tx:
        repository = await new_repository(tx)
        await tx.blobs.put(digest("layer"), 10, at(0))

    async def claim() -> object:
        async with collector.transaction() as tx:
            return await tx.blobs.claim_unreferenced(digest("layer"), at(30))

    async with pusher.transaction() as tx:
        await tx.blobs.put(digest("layer"), 10, at(100))
        claiming = asyncio.create_task(claim())
        assert await still_waiting(claiming)
        await tx.blobs.link(repository.id, digest("layer"), at(100))
    assert await claiming is None


async def test_a_push_waiting_on_a_claimed_blob_records_it_again(
    nodes: tuple[MetaStore, MetaStore],
) -> None:
    pusher, collector = nodes
    async with pusher.transaction() as tx:
        await tx.blobs.put(digest("layer"), 10, at(0))

    async def record() -> object:
        async with pusher.transaction() as tx:
            return await tx.blobs.put(digest("layer"), 10, at(100))

    async with collector.transaction() as tx:
        assert await tx.blobs.claim_unreferenced(digest("layer"), at(30)) is not None
        recording = asyncio.create_task(record())
        assert await still_waiting(recording)
        await tx.blobs.delete(digest("layer"))
    recorded = await recording
    assert getattr(recorded, "created_at", None) == at(100)
    async with pusher.read() as tx:
        assert await tx.blobs.get(digest("layer")) == recorded
