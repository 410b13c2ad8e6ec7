"""Garbage collection through the whole app: pushes over /v2, ages set by a test clock, then GC.

The last test runs GC in a loop while clients push images that share layers, mount them and
delete images, on SQLite and PostgreSQL, and then pulls every acknowledged image intact.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from berth.app import BerthApp, create_app
from berth.meta.base import AuditFilter
from berth.settings import load_settings
from berth.types import Digest

from .conftest import ACCOUNT_ID, BASE_URL, basic
from .oci import digest_of, image_manifest, push_blob, push_manifest

T0 = datetime(2025, 3, 1, tzinfo=UTC)
GRACE = timedelta(days=1)
LAYER = b"a layer every image shares" * 100


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def open_app(
    tmp_path: Path, clock: Callable[[], datetime], database_url: str | None = None
) -> BerthApp:
    settings = load_settings(
        environ={},
        data_dir=tmp_path,
        account_id=ACCOUNT_ID,
        database_url=database_url,
        gc_interval_seconds=0,
        upload_expiry_interval_seconds=0,
        lifecycle_interval_seconds=0,
    )
    app = create_app(settings, clock=clock)
    await app.startup()
    return app


@pytest.fixture
async def app(tmp_path: Path, clock: Clock, database_url: str | None) -> AsyncIterator[BerthApp]:
    berth = await open_app(tmp_path, clock, database_url)
    try:
        yield berth
    finally:
        await berth.shutdown()


async def push_image(client: httpx.AsyncClient, name: str, seed: str, *layers: bytes) -> str:
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    await push_blob(client, name, config)
    for layer in layers:
        await push_blob(client, name, layer)
    body = image_manifest(config, list(layers))
    await push_manifest(client, name, seed, body)
    return digest_of(body)


async def stored(app: BerthApp, digest: str) -> bool:
    return await app.services.blobs.blob_size(Digest.parse(digest)) is not None


async def test_young_blobs_stay_and_old_unreferenced_ones_go(
    app: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    await push_image(client, "gc/web", "v1", LAYER)
    orphan = await push_blob(client, "gc/web", b"pushed, never referenced")
    report = await app.services.gc.run()
    assert (report.links_dropped, report.removed) == (0, [])

    clock.now += GRACE + timedelta(seconds=1)
    report = await app.services.gc.run()
    assert report.links_dropped == 1
    assert report.removed == [(orphan, len(b"pushed, never referenced"))]
    assert (await client.head(f"/v2/gc/web/blobs/{orphan}")).status_code == 404
    assert not await stored(app, orphan)
    layer = await client.get(f"/v2/gc/web/blobs/{digest_of(LAYER)}")
    assert layer.status_code == 200
    assert layer.content == LAYER


async def test_a_deleted_image_frees_only_what_nothing_else_references(
    app: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    only_here = b"a layer only the first image has"
    first = await push_image(client, "gc/a", "one", LAYER, only_here)
    await push_image(client, "gc/b", "two", LAYER)
    assert (await client.delete(f"/v2/gc/a/manifests/{first}")).status_code == 202
    clock.now += GRACE + timedelta(seconds=1)

    report = await app.services.gc.run()

    removed = {digest for digest, _ in report.removed}
    assert digest_of(only_here) in removed
    assert digest_of(LAYER) not in removed
    assert (await client.head(f"/v2/gc/a/blobs/{digest_of(LAYER)}")).status_code == 404
    assert (await client.head(f"/v2/gc/b/blobs/{digest_of(LAYER)}")).status_code == 200
    assert await stored(app, digest_of(LAYER))


async def test_a_collected_blob_can_be_pushed_again(
    app: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    digest = await push_blob(client, "gc/web", b"comes and goes")
    clock.now += GRACE + timedelta(seconds=1)
    assert [d for d, _ in (await app.services.gc.run()).removed] == [digest]
    assert await push_blob(client, "gc/web", b"comes and goes") == digest
    assert (await client.get(f"/v2/gc/web/blobs/{digest}")).content == b"comes and goes"


async def test_relinking_makes_a_link_young_again(
    app: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    digest = await push_blob(client, "gc/web", b"linked twice")
    clock.now += GRACE
    assert await push_blob(client, "gc/web", b"linked twice") == digest
    mounted = await client.post(f"/v2/gc/other/blobs/uploads/?mount={digest}&from=gc/web")
    assert mounted.status_code == 201
    clock.now += timedelta(hours=1)
    report = await app.services.gc.run()
    assert (report.links_dropped, report.removed) == (0, [])


async def test_a_blob_checked_a_day_later_waits_for_its_manifest(
    app: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    """A push that failed before its manifest, resumed the next day: HEAD says the blobs are
    there (so the client skips them), GC runs, then the manifest arrives."""
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    for blob in (config, LAYER):
        await push_blob(client, "gc/web", blob)
    forgotten = await push_blob(client, "gc/web", b"pushed, never checked again")
    clock.now += GRACE - timedelta(minutes=5)
    for blob in (config, LAYER):
        assert (await client.head(f"/v2/gc/web/blobs/{digest_of(blob)}")).status_code == 200
    clock.now += timedelta(minutes=10)

    report = await app.services.gc.run()

    assert report.links_dropped == 1
    assert [digest for digest, _ in report.removed] == [forgotten]
    await push_manifest(client, "gc/web", "resumed", image_manifest(config, [LAYER]))


async def test_bytes_without_a_row_are_recorded_then_collected(app: BerthApp, clock: Clock) -> None:
    store = app.services.blobs
    state = await store.start_upload("stray")
    state = await store.append_upload("stray", state, _once(b"written, never recorded"))
    digest = Digest.of(b"written, never recorded")
    await store.commit_upload("stray", state, digest)

    first = await app.services.gc.run()
    assert (first.adopted, first.removed) == (1, [])
    clock.now += GRACE + timedelta(seconds=1)
    second = await app.services.gc.run()
    assert (second.adopted, [d for d, _ in second.removed]) == (0, [str(digest)])
    assert await store.blob_size(digest) is None


async def test_a_dry_run_reports_and_changes_nothing(
    app: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    digest = await push_blob(client, "gc/web", b"would go")
    clock.now += GRACE + timedelta(seconds=1)
    preview = await app.services.gc.run(dry_run=True)
    assert (preview.links_dropped, [d for d, _ in preview.removed]) == (1, [digest])
    assert (await client.head(f"/v2/gc/web/blobs/{digest}")).status_code == 200
    assert await stored(app, digest)


async def test_a_row_whose_bytes_are_gone_is_healed_by_the_next_push(
    app: BerthApp, client: httpx.AsyncClient
) -> None:
    digest = await push_blob(client, "gc/web", b"lost bytes")
    await app.services.blobs.delete_blob(Digest.parse(digest))
    assert await push_blob(client, "gc/other", b"lost bytes") == digest
    assert (await client.get(f"/v2/gc/other/blobs/{digest}")).content == b"lost bytes"


async def test_gc_job_runs_under_its_lock_and_is_audited(app: BerthApp, clock: Clock) -> None:
    summary = await app.jobs.run("gc")
    assert summary is not None and "removed 0 blob(s)" in summary
    async with app.services.meta.exclusive("job:gc") as held:
        assert held
        assert await app.jobs.run("gc") is None
    events = await app.services.audit.list(AuditFilter(action="berth:gc"))
    assert [(e.action, e.outcome) for e in events] == [("berth:gc", "completed")]
    assert events[0].message.startswith(f"started {T0.isoformat()}; dropped 0 stale link(s)")


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


# -- GC in a loop while pushes go on ---------------------------------------------------------------

SHARED = [bytes([n]) * 2048 + b"shared layer" for n in range(4)]


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_gc_in_a_loop_never_breaks_an_acknowledged_push(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Zero grace: every blob not yet referenced is fair game the moment GC looks at it."""
    url = None if database == "sqlite" else str(request.getfixturevalue("postgresql_url"))
    berth = await open_app(tmp_path, lambda: datetime.now(UTC), url)
    headers = {"Authorization": basic(berth.issue_root_token())}
    transport = httpx.ASGITransport(app=berth)
    acknowledged: dict[tuple[str, str], bytes] = {}
    stats = {"removed": 0, "dropped": 0, "refused": 0, "runs": 0}
    stop = asyncio.Event()

    async def collect() -> None:
        while not stop.is_set():
            report = await berth.services.gc.run(timedelta(0))
            stats["removed"] += len(report.removed)
            stats["dropped"] += report.links_dropped
            stats["runs"] += 1
            await asyncio.sleep(0)

    async def pusher(worker: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(worker)
        for round_ in range(12):
            name = f"race/r{rng.randrange(3)}"
            layers = [*rng.sample(SHARED, 2), f"own {worker}-{round_}".encode() * 50]
            result = await _push_tolerating_gc(http, name, f"w{worker}-{round_}", layers, rng)
            if result is None:
                stats["refused"] += 1
                continue
            acknowledged[(name, result[0])] = result[1]
            if rng.random() < 0.3:
                await http.delete(f"/v2/{name}/manifests/{result[0]}")
                del acknowledged[(name, result[0])]

    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=headers, timeout=60
        ) as http:
            collector = asyncio.create_task(collect())
            await asyncio.gather(*(pusher(worker, http) for worker in range(6)))
            stop.set()
            await collector
            for (name, digest), body in acknowledged.items():
                await _assert_pulls_intact(http, name, digest, body)
    finally:
        await berth.shutdown()
    assert stats["runs"] > 5
    assert stats["removed"] > 0 and stats["dropped"] > 0, stats
    assert len(acknowledged) > 20, stats


async def _push_tolerating_gc(
    http: httpx.AsyncClient, name: str, seed: str, layers: list[bytes], rng: random.Random
) -> tuple[str, bytes] | None:
    """Push like a client: skip blobs the registry has, mount some; retry when GC won the race.

    Returns (digest, manifest) once the manifest PUT is acknowledged, None after 5 attempts.
    """
    config = json.dumps({"seed": seed}).encode()
    body = image_manifest(config, layers)
    for _ in range(5):
        for blob in [config, *layers]:
            await _ensure_blob(http, name, blob, rng)
        response = await http.put(
            f"/v2/{name}/manifests/{seed}",
            content=body,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        if response.status_code == 201:
            return digest_of(body), body
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    return None


async def _ensure_blob(http: httpx.AsyncClient, name: str, blob: bytes, rng: random.Random) -> None:
    digest = digest_of(blob)
    if (await http.head(f"/v2/{name}/blobs/{digest}")).status_code == 200:
        return
    if rng.random() < 0.5:
        source = f"race/r{rng.randrange(3)}"
        mounted = await http.post(f"/v2/{name}/blobs/uploads/?mount={digest}&from={source}")
        if mounted.status_code == 201:
            return
        await http.delete(mounted.headers["Location"])
    pushed = await http.post(f"/v2/{name}/blobs/uploads/?digest={digest}", content=blob)
    assert pushed.status_code == 201, pushed.text


async def _assert_pulls_intact(
    http: httpx.AsyncClient, name: str, digest: str, body: bytes
) -> None:
    manifest = await http.get(
        f"/v2/{name}/manifests/{digest}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert manifest.status_code == 200, (name, digest)
    assert manifest.content == body
    document = json.loads(body)
    for descriptor in [document["config"], *document["layers"]]:
        blob = await http.get(f"/v2/{name}/blobs/{descriptor['digest']}")
        assert blob.status_code == 200, (name, descriptor["digest"], blob.text)
        assert digest_of(blob.content) == descriptor["digest"]
