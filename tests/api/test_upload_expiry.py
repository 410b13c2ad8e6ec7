"""Upload expiry through the app: idle sessions and orphaned upload storage go, live ones stay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from berth.app import BerthApp

from .oci import assert_error
from .test_gc import T0, Clock, open_app

IDLE = timedelta(days=1)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def app(tmp_path: Path, clock: Clock, database_url: str | None) -> AsyncIterator[BerthApp]:
    berth = await open_app(tmp_path, clock, database_url)
    try:
        yield berth
    finally:
        await berth.shutdown()


async def stored_uploads(app: BerthApp) -> list[str]:
    return [u.upload_id async for u in app.services.blobs.list_uploads()]


async def test_idle_sessions_expire_and_busy_ones_stay(
    app: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    idle = (await client.post("/v2/exp/web/blobs/uploads/")).headers["Location"]
    busy = (await client.post("/v2/exp/web/blobs/uploads/")).headers["Location"]
    clock.now += IDLE - timedelta(minutes=1)
    assert (await client.patch(busy, content=b"still here")).status_code == 202
    clock.now += timedelta(minutes=2)

    report = await app.services.upload_expiry.run()

    assert (report.sessions, report.orphans, report.incomplete) == (1, 0, 0)
    assert_error(await client.get(idle), 404, "BLOB_UPLOAD_UNKNOWN")
    assert (await client.get(busy)).status_code == 204
    assert await stored_uploads(app) == [busy.rsplit("/", 1)[1]]


async def test_orphaned_upload_storage_expires_once_idle(app: BerthApp, clock: Clock) -> None:
    store = app.services.blobs
    state = await store.start_upload("orphan")
    await store.append_upload("orphan", state, _once(b"nobody owns this"))
    assert (await app.services.upload_expiry.run()).orphans == 0
    assert await stored_uploads(app) == ["orphan"]
    clock.now = datetime.now(UTC) + IDLE + timedelta(minutes=1)  # storage times are real
    assert (await app.services.upload_expiry.run()).orphans == 1
    assert await stored_uploads(app) == []


async def test_the_job_reports_and_the_metrics_count_expired_sessions(
    app: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    await client.post("/v2/exp/web/blobs/uploads/")
    clock.now += IDLE + timedelta(minutes=1)
    summary = await app.jobs.run("upload-expiry")
    assert summary is not None and summary.startswith("expired 1 idle upload session(s)")
    metrics = (await client.get("/metrics")).text
    assert 'berth_upload_sessions_finished_total{outcome="expired"} 1.0' in metrics
    assert "berth_upload_sessions_open 0.0" in metrics


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
