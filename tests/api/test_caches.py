"""Caches never serve what another process sharing the database has changed since.

Two apps over one database stand for two server workers. On SQLite they share the write
generation, so a change is seen at once; PostgreSQL nodes see each other's writes within the
cross-node TTL, so there the second app is asked again after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from berth.app import BerthApp, create_app
from berth.meta.cache import CROSS_NODE_TTL

from .conftest import BASE_URL, basic
from .oci import digest_of, image_manifest, push_blob, push_manifest


class Second(httpx.AsyncClient):
    """The other worker; on PostgreSQL it waits out the cross-node TTL before each request."""

    def __init__(self, settle: float, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.settle = settle

    async def send(self, request: httpx.Request, **options: object) -> httpx.Response:  # type: ignore[override]
        if self.settle:
            await asyncio.sleep(self.settle)
        return await super().send(request, **options)  # type: ignore[arg-type]


@pytest.fixture
async def second(app: BerthApp) -> AsyncIterator[httpx.AsyncClient]:
    other = create_app(app.settings)
    shared = app.services.meta.sees_other_writers  # type: ignore[attr-defined]
    settle = 0.0 if shared else CROSS_NODE_TTL + 0.1
    await other.startup()
    headers = {"Authorization": basic(other.issue_root_token())}
    transport = httpx.ASGITransport(app=other)
    try:
        async with Second(settle, transport=transport, base_url=BASE_URL, headers=headers) as http:
            yield http
    finally:
        await other.shutdown()


async def _image(client: httpx.AsyncClient, name: str, label: bytes) -> bytes:
    config = b'{"label":"' + label + b'"}'
    await push_blob(client, name, config)
    layer = b"layer-" + label
    await push_blob(client, name, layer)
    return image_manifest(config, [layer])


async def test_a_retag_is_seen_at_once_by_another_worker(
    client: httpx.AsyncClient, second: httpx.AsyncClient
) -> None:
    first_body = await _image(client, "web", b"one")
    await push_manifest(client, "web", "latest", first_body)
    for _ in range(2):  # the first pull records the pull time, a write of its own
        seen = await second.get("/v2/web/manifests/latest")
        assert seen.headers["Docker-Content-Digest"] == digest_of(first_body)
    second_body = await _image(client, "web", b"two")
    await push_manifest(client, "web", "latest", second_body)
    seen = await second.get("/v2/web/manifests/latest")
    assert seen.headers["Docker-Content-Digest"] == digest_of(second_body)


async def test_a_deleted_manifest_is_gone_at_once_for_another_worker(
    client: httpx.AsyncClient, second: httpx.AsyncClient
) -> None:
    body = await _image(client, "web", b"gone")
    await push_manifest(client, "web", "v1", body)
    digest = digest_of(body)
    assert (await second.head(f"/v2/web/manifests/{digest}")).status_code == 200
    assert (await client.delete(f"/v2/web/manifests/{digest}")).status_code == 202
    assert (await second.head(f"/v2/web/manifests/{digest}")).status_code == 404
    assert (await second.get("/v2/web/manifests/v1")).status_code == 404


async def test_a_new_tag_is_listed_at_once_by_another_worker(
    client: httpx.AsyncClient, second: httpx.AsyncClient
) -> None:
    body = await _image(client, "web", b"listed")
    await push_manifest(client, "web", "v1", body)
    for _ in range(2):
        assert (await second.get("/v2/web/tags/list")).json()["tags"] == ["v1"]
    await push_manifest(client, "web", "v2", body)
    assert (await second.get("/v2/web/tags/list")).json()["tags"] == ["v1", "v2"]
    assert (await second.get("/v2/web/tags/list?n=1")).json()["tags"] == ["v1"]
    assert (await client.delete("/v2/web/manifests/v1")).status_code == 202
    assert (await second.get("/v2/web/tags/list?n=1")).json()["tags"] == ["v2"]
