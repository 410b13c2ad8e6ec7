"""With ``download_port`` set, a whole-blob GET redirects to a signed URL on that port."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio import to_thread
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request

from berth.api.oci.context import RegistryContext, download_base
from berth.app import BerthApp, create_app, root_credentials
from berth.settings import load_settings

from .conftest import ACCOUNT_ID, BASE_URL, basic
from .oci import assert_error, push_blob

NAME = "team/app"
BLOB = os.urandom(3 << 20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def started(tmp_path: Path, **settings: Any) -> BerthApp:
    berth = create_app(
        load_settings(environ={}, data_dir=tmp_path, account_id=ACCOUNT_ID, **settings)
    )
    await berth.startup()
    return berth


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[BerthApp]:
    berth = await started(tmp_path, download_port=free_port())
    try:
        yield berth
    finally:
        await berth.shutdown()


async def test_a_blob_get_redirects_to_the_download_port(
    app: BerthApp, client: httpx.AsyncClient
) -> None:
    digest = await push_blob(client, NAME, BLOB)
    response = await client.get(f"/v2/{NAME}/blobs/{digest}")
    assert response.status_code == 307
    assert response.headers["Docker-Content-Digest"] == digest
    location = response.headers["Location"]
    prefix = f"http://registry.test:{app.settings.download_port}/v2/_downloads/"
    assert location.startswith(prefix)
    grant = await app.services.downloads.verify(location.removeprefix(prefix))
    assert (grant.repository, grant.digest) == (NAME, digest)

    same_url_here = await client.get(location.removeprefix(prefix.split("/v2", maxsplit=1)[0]))
    assert same_url_here.status_code == 200
    assert same_url_here.content == BLOB


async def test_the_download_port_sends_the_bytes(app: BerthApp, client: httpx.AsyncClient) -> None:
    await app.serve_download_port()
    digest = await push_blob(client, NAME, BLOB)
    redirect = await client.get(f"/v2/{NAME}/blobs/{digest}", headers={"Host": "127.0.0.1:5000"})
    location = redirect.headers["Location"]
    assert location.startswith(f"http://127.0.0.1:{app.settings.download_port}/")

    def download() -> httpx.Response:
        return httpx.get(location, timeout=10)

    response = await to_thread.run_sync(download)
    assert response.status_code == 200
    assert response.content == BLOB
    assert response.headers["Docker-Content-Digest"] == digest


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def scrape_until(client: httpx.AsyncClient, done: Callable[[str], bool]) -> str:
    """``/metrics`` once ``done`` holds: the port counts a response just after it writes it."""
    for _ in range(50):
        text = (await client.get("/metrics")).text
        if done(text):
            break
        await asyncio.sleep(0.1)
    return text


async def test_the_download_port_traffic_is_in_the_metrics(
    app: BerthApp, client: httpx.AsyncClient
) -> None:
    await app.serve_download_port()
    digest = await push_blob(client, NAME, BLOB)
    redirect = await client.get(f"/v2/{NAME}/blobs/{digest}", headers={"Host": "127.0.0.1:5000"})
    location = redirect.headers["Location"]

    def pull() -> list[int]:
        with httpx.Client(timeout=10) as http:
            whole = http.get(location)
            assert whole.content == BLOB
            ranged = http.get(location, headers={"Range": "bytes=0-99"})
            head = http.head(location)
            tampered = http.get(location[:-3] + "abc")
        return [whole.status_code, ranged.status_code, head.status_code, tampered.status_code]

    assert await to_thread.run_sync(pull) == [200, 206, 200, 403]
    responses, sent = "berth_download_port_responses_total", "berth_download_port_sent_bytes_total"
    text = await scrape_until(
        client,
        lambda text: (
            metric(text, sent) >= len(BLOB) + 100 and metric(text, responses, status="403") >= 1
        ),
    )
    assert metric(text, responses, status="200") == 2
    assert metric(text, responses, status="206") == 1
    assert metric(text, responses, status="403") == 1
    assert metric(text, sent) == len(BLOB) + 100


async def get_download_url(app: BerthApp, http: httpx.AsyncClient, digest: str, host: str) -> str:
    """``GetDownloadUrlForLayer``, signed as the root, asked of ``host``."""
    root = root_credentials(app.settings)
    data = json.dumps({"repositoryName": NAME, "layerDigest": digest}).encode()
    headers = {
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.GetDownloadUrlForLayer",
        "Content-Type": "application/x-amz-json-1.1",
    }
    request = AWSRequest(method="POST", url=f"http://{host}/", data=data, headers=headers)
    credentials = Credentials(root.access_key_id, root.secret_access_key)
    SigV4Auth(credentials, "ecr", app.settings.region).add_auth(request)
    signed = {**dict(request.prepare().headers.items()), "Host": host}
    response = await http.post("/", content=data, headers=signed)
    assert response.status_code == 200, response.text
    return str(response.json()["downloadUrl"])


async def test_get_download_url_for_layer_names_the_port_as_the_client_reaches_it(
    app: BerthApp, client: httpx.AsyncClient
) -> None:
    digest = await push_blob(client, NAME, BLOB)
    port = app.settings.download_port
    for host in ("registry.test", "127.0.0.1:5000"):
        url = await get_download_url(app, client, digest, host)
        assert url.startswith(f"http://{host.split(':')[0]}:{port}/v2/_downloads/")


async def test_ranges_and_heads_are_answered_in_place(client: httpx.AsyncClient) -> None:
    digest = await push_blob(client, NAME, BLOB)
    ranged = await client.get(f"/v2/{NAME}/blobs/{digest}", headers={"Range": "bytes=5-9"})
    assert ranged.status_code == 206
    assert ranged.content == BLOB[5:10]
    head = await client.head(f"/v2/{NAME}/blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(BLOB))


async def test_no_redirect_before_authorization(app: BerthApp, client: httpx.AsyncClient) -> None:
    digest = await push_blob(client, NAME, BLOB)
    anonymous = await client.get(f"/v2/{NAME}/blobs/{digest}", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert "Location" not in anonymous.headers
    missing = "sha256:" + "0" * 64
    assert_error(await client.get(f"/v2/{NAME}/blobs/{missing}"), 404, "BLOB_UNKNOWN")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (b"[::1]:5000", "http://[::1]:5001"),
        (b"registry.example.com", "http://registry.example.com:5001"),
        (b"registry.example.com:443", "http://registry.example.com:5001"),
        (b"evil.example.com/path?x=", "http://10.0.0.5:5001"),
        (b'a"b', "http://10.0.0.5:5001"),
        (b"", "http://10.0.0.5:5001"),
        (None, "http://10.0.0.5:5001"),
    ],
)
def test_the_redirect_names_the_host_the_client_asked_for(
    app: BerthApp, host: bytes | None, expected: str
) -> None:
    headers = [] if host is None else [(b"host", host)]
    scope = {"type": "http", "headers": headers, "server": ("10.0.0.5", 5000)}
    context = RegistryContext(app.services, None, download_port=5001)
    assert download_base(Request(scope), context) == expected


async def test_download_url_names_the_port_behind_a_proxy(tmp_path: Path) -> None:
    berth = await started(
        tmp_path, download_port=free_port(), download_url="https://downloads.example.com"
    )
    try:
        headers = {"Authorization": basic(berth.issue_root_token())}
        transport = httpx.ASGITransport(app=berth)
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=headers
        ) as http:
            digest = await push_blob(http, NAME, BLOB)
            response = await http.get(f"/v2/{NAME}/blobs/{digest}")
        assert response.status_code == 307
        location = response.headers["Location"]
        assert location.startswith("https://downloads.example.com/v2/_downloads/")
    finally:
        await berth.shutdown()
