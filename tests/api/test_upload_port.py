"""The upload port (``berth.api.upload_port``): signed upload URLs taking PATCH/PUT/GET/DELETE,
decided by IAM on every request, spoken to over real sockets beside the in-process registry."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import h11
import httpx
import pytest

from berth.api.side_ports import bind_port
from berth.api.upload_port import UploadAddresses, UploadPort
from berth.app import BerthApp, create_app
from berth.meta.base import AuditFilter
from berth.meta.identities import OwnerKind
from berth.services.downloads import (
    UploadGrant,
    sign_download_token,
    sign_upload_token,
    verify_download_token,
    verify_upload_token,
)
from berth.settings import load_settings
from berth.types import Principal, PrincipalKind

from .conftest import ACCOUNT_ID, basic

NAME = "up/app"
MIB = 1024 * 1024


@dataclass
class Running:
    port: UploadPort
    number: int
    app: BerthApp
    registry: httpx.AsyncClient

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.number}"

    async def begin(self, name: str = NAME, principal: Principal | None = None) -> str:
        """A new upload in ``name``, and its signed URL on the port for ``principal``."""
        started = await self.registry.post(f"/v2/{name}/blobs/uploads/")
        assert started.status_code == 202, started.text
        upload_id = started.headers["Docker-Upload-UUID"]
        who = principal or Principal.root(ACCOUNT_ID)
        token = await self.app.services.downloads.sign_upload(name, upload_id, who)
        return f"{self.base}/v2/_uploads/{token}"

    async def blob(self, digest: str, name: str = NAME) -> bytes:
        answer = await self.registry.get(f"/v2/{name}/blobs/{digest}")
        assert answer.status_code == 200, answer.text
        return answer.content


@pytest.fixture
async def running(app: BerthApp, client: httpx.AsyncClient) -> AsyncIterator[Running]:
    sock = bind_port("127.0.0.1", 0)
    number = sock.getsockname()[1]
    addresses = UploadAddresses(
        upload_port=number, upload_url=None, registry_port=5000, registry_url=None
    )
    key = await app.services.downloads.signing_key()
    port = UploadPort(
        app.services, key, addresses, header_timeout=0.5, idle_timeout=1.0, body_timeout=0.5
    )
    await port.start(sock)
    try:
        yield Running(port, number, app, client)
    finally:
        await port.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as session:
        yield session


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def code_of(answer: httpx.Response) -> str:
    return str(answer.json()["errors"][0]["code"])


async def test_a_chunked_upload_goes_through_the_port(
    running: Running, http: httpx.AsyncClient
) -> None:
    data = os.urandom(3 * MIB + 123)
    url = await running.begin()
    first = await http.patch(url, content=data[: 2 * MIB], headers={"Content-Range": "0-2097151"})
    assert first.status_code == 202, first.text
    assert first.headers["Range"] == f"0-{2 * MIB - 1}"
    assert first.headers["Location"].startswith(f"{running.base}/v2/_uploads/")
    assert first.headers["Docker-Upload-UUID"]
    status = await http.get(first.headers["Location"])
    assert status.status_code == 204
    assert "Content-Length" not in status.headers
    assert status.headers["Range"] == f"0-{2 * MIB - 1}"
    digest = sha256(data)
    done = await http.put(
        status.headers["Location"], params={"digest": digest}, content=data[2 * MIB :]
    )
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == digest
    assert done.headers["Location"] == f"http://127.0.0.1:5000/v2/{NAME}/blobs/{digest}"
    assert await running.blob(digest) == data


async def test_a_whole_blob_in_one_put_and_a_streamed_chunked_body(
    running: Running, http: httpx.AsyncClient
) -> None:
    whole = os.urandom(5 * MIB)
    url = await running.begin()
    done = await http.put(url, params={"digest": sha256(whole)}, content=whole)
    assert done.status_code == 201, done.text
    assert await running.blob(sha256(whole)) == whole

    async def pieces() -> AsyncIterator[bytes]:  # no Content-Length: chunked encoding
        for start in range(0, len(whole), 700_001):
            yield whole[start : start + 700_001]

    streamed = await running.begin()
    patched = await http.patch(streamed, content=pieces())
    assert patched.status_code == 202
    assert patched.headers["Range"] == f"0-{len(whole) - 1}"
    closed = await http.put(patched.headers["Location"], params={"digest": sha256(whole)})
    assert closed.status_code == 201


async def test_a_chunk_that_does_not_start_where_the_upload_ends_is_refused(
    running: Running, http: httpx.AsyncClient
) -> None:
    url = await running.begin()
    first = await http.patch(url, content=b"a" * 10, headers={"Content-Range": "0-9"})
    assert first.status_code == 202
    gap = await http.patch(
        first.headers["Location"], content=b"b" * 10, headers={"Content-Range": "20-29"}
    )
    assert gap.status_code == 416
    assert code_of(gap) == "BLOB_UPLOAD_INVALID"
    assert gap.headers["Range"] == "0-9"
    assert gap.headers["Location"].startswith(f"{running.base}/v2/_uploads/")
    short = await http.patch(
        first.headers["Location"], content=b"b" * 5, headers={"Content-Range": "10-19"}
    )
    assert short.status_code == 400
    assert code_of(short) == "SIZE_INVALID"
    malformed = await http.patch(url, content=b"c", headers={"Content-Range": "x-y"})
    assert malformed.status_code == 400
    assert code_of(malformed) == "BLOB_UPLOAD_INVALID"
    status = await http.get(url)
    assert status.headers["Range"] == "0-9"  # the refused chunks left nothing behind


async def test_a_wrong_digest_discards_the_upload_and_nothing_is_served(
    running: Running, http: httpx.AsyncClient
) -> None:
    url = await running.begin()
    wrong = sha256(b"something else")
    refused = await http.put(url, params={"digest": wrong}, content=b"the real bytes")
    assert refused.status_code == 400
    assert code_of(refused) == "DIGEST_INVALID"
    gone = await http.get(url)
    assert gone.status_code == 404
    assert code_of(gone) == "BLOB_UPLOAD_UNKNOWN"
    assert (await running.registry.head(f"/v2/{NAME}/blobs/{wrong}")).status_code == 404
    missing = await http.put(await running.begin(), content=b"x")
    assert missing.status_code == 400
    assert code_of(missing) == "DIGEST_INVALID"
    bad = await http.put(await running.begin(), params={"digest": "sha256:short"})
    assert bad.status_code == 400
    assert code_of(bad) == "DIGEST_INVALID"


async def test_delete_cancels_the_upload(running: Running, http: httpx.AsyncClient) -> None:
    url = await running.begin()
    assert (await http.patch(url, content=b"abc")).status_code == 202
    cancelled = await http.delete(url)
    assert cancelled.status_code == 204
    again = await http.patch(url, content=b"abc")
    assert again.status_code == 404
    assert code_of(again) == "BLOB_UPLOAD_UNKNOWN"


async def test_forged_expired_and_download_tokens_are_refused(
    running: Running, http: httpx.AsyncClient
) -> None:
    url = await running.begin()
    token = url.rsplit("/", 1)[1]
    body, _, mac = token.partition(".")
    forged = await http.patch(f"{running.base}/v2/_uploads/{body}.{mac[::-1]}", content=b"x")
    assert forged.status_code == 403
    assert code_of(forged) == "DENIED"
    assert "upload URL is invalid or has expired" in forged.json()["errors"][0]["message"]
    key = running.port.key
    download = sign_download_token(key, NAME, sha256(b"x"), 2**40)
    as_upload = await http.patch(f"{running.base}/v2/_uploads/{download}", content=b"x")
    assert as_upload.status_code == 403
    root = Principal.root(ACCOUNT_ID)
    upload_id = (await http.get(url)).headers["Docker-Upload-UUID"]
    expired = sign_upload_token(key, UploadGrant(NAME, upload_id, root, 1_000))
    late = await http.get(f"{running.base}/v2/_uploads/{expired}")
    assert late.status_code == 403
    nowhere = await http.get(f"{running.base}/v2/{NAME}/blobs/uploads/{upload_id}")
    assert nowhere.status_code == 404
    assert code_of(nowhere) == "UNSUPPORTED"
    posted = await http.post(url, content=b"x")
    assert posted.status_code == 405
    assert posted.headers["Allow"] == "PATCH, PUT, GET, DELETE"
    head = await http.head(url)
    assert head.status_code == 405
    assert head.content == b""
    assert (await http.get(url)).status_code == 204  # the connection is still good


async def test_a_role_session_s_upload_url_ends_with_the_session(running: Running) -> None:
    session = Principal(
        PrincipalKind.ASSUMED_ROLE,
        ACCOUNT_ID,
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/pusher/s",
        "AROA:s",
        name="pusher",
        session="s",
        session_expires=1_000.0,
    )
    signed = await running.app.services.downloads.sign_upload(NAME, "id", session)
    grant = verify_upload_token(running.port.key, signed, 999)
    assert grant.expires_at == 1_000
    with pytest.raises(Exception, match="upload URL is invalid or has expired"):
        verify_upload_token(running.port.key, signed, 1_000)


def test_upload_and_download_tokens_do_not_pass_for_each_other() -> None:
    key = b"k" * 32
    root = Principal.root(ACCOUNT_ID)
    upload = sign_upload_token(key, UploadGrant(NAME, "id", root, 2_000))
    assert verify_upload_token(key, upload, 1_000).principal == root
    download = sign_download_token(key, NAME, sha256(b"x"), 2_000)
    with pytest.raises(Exception, match="download URL is invalid"):
        verify_download_token(key, upload, 1_000)
    with pytest.raises(Exception, match="upload URL is invalid"):
        verify_upload_token(key, download, 1_000)
    with pytest.raises(Exception, match="upload URL is invalid"):
        verify_upload_token(b"other" * 8, upload, 1_000)
    with pytest.raises(Exception, match="upload URL is invalid"):
        verify_upload_token(key, upload, 2_000)


def policy(effect: str, *actions: str) -> str:
    statement = {"Effect": effect, "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


async def test_every_request_is_decided_by_iam_and_audited(
    running: Running, http: httpx.AsyncClient
) -> None:
    app = running.app
    user = await app.services.identities.principals.create_user("pusher")
    policies = app.services.identities.policies
    push = ("ecr:InitiateLayerUpload", "ecr:UploadLayerPart")
    await policies.put_inline(OwnerKind.USER, "pusher", "push", policy("Allow", *push))
    pusher = Principal(PrincipalKind.USER, ACCOUNT_ID, user.arn, user.id, name="pusher")
    await running.registry.post(f"/v2/{NAME}/blobs/uploads/")  # the repository exists
    token = app.signer.issue(pusher, 60).token
    started = await running.registry.post(
        f"/v2/{NAME}/blobs/uploads/", headers={"Authorization": basic(token)}
    )
    assert started.status_code == 202
    upload_id = started.headers["Docker-Upload-UUID"]
    signed = await app.services.downloads.sign_upload(NAME, upload_id, pusher)
    url = f"{running.base}/v2/_uploads/{signed}"

    patched = await http.patch(url, content=b"layer", headers={"X-Request-Id": "req-7"})
    assert patched.status_code == 202
    refused = await http.put(url, params={"digest": sha256(b"layer")})
    assert refused.status_code == 403
    assert code_of(refused) == "DENIED"
    message = refused.json()["errors"][0]["message"]
    assert "ecr:CompleteLayerUpload" in message
    assert "user/pusher" in message

    await policies.put_inline(OwnerKind.USER, "pusher", "stop", policy("Deny", *push))
    denied = await http.patch(url, content=b"more")
    assert denied.status_code == 403
    assert "explicit deny" in denied.json()["errors"][0]["message"].lower()

    events = await app.services.audit.list(AuditFilter(principal=user.arn))
    seen = {(e.action, e.outcome, e.request_id) for e in events}
    assert ("ecr:UploadLayerPart", "allow", "req-7") in seen
    assert any(e.action == "ecr:CompleteLayerUpload" and e.outcome != "allow" for e in events)
    assert all(e.source_ip == "127.0.0.1" for e in events if e.request_id == "req-7")


async def test_a_client_that_goes_away_mid_body_leaves_the_upload_where_it_was(
    running: Running, http: httpx.AsyncClient
) -> None:
    url = await running.begin()
    assert (await http.patch(url, content=b"x" * 1000)).status_code == 202
    path = url.removeprefix(running.base)
    _reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
    writer.write(
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {8 * MIB}\r\n\r\n".encode()
        + b"y" * (3 * MIB)
    )
    await writer.drain()
    writer.close()
    await asyncio.sleep(0.3)
    status = await http.get(url)
    assert status.headers["Range"] == "0-999"
    data = b"x" * 1000 + b"z" * (2 * MIB)
    resumed = await http.patch(
        url, content=b"z" * (2 * MIB), headers={"Content-Range": f"1000-{len(data) - 1}"}
    )
    assert resumed.status_code == 202, resumed.text
    done = await http.put(url, params={"digest": sha256(data)})
    assert done.status_code == 201
    assert await running.blob(sha256(data)) == data


async def test_a_stalled_body_is_dropped_after_the_body_timeout(running: Running) -> None:
    url = await running.begin()
    path = url.removeprefix(running.base)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
    writer.write(
        f"PATCH {path} HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n".encode() + b"a" * 10
    )
    await writer.drain()
    async with asyncio.timeout(3):
        assert await reader.read() == b""  # closed without an answer
    writer.close()


async def test_keep_alive_pipelining_and_expect_continue(running: Running) -> None:
    url = await running.begin()
    path = url.removeprefix(running.base)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
    one = f"PATCH {path} HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
    two = f"GET {path} HTTP/1.1\r\nHost: h\r\n\r\n"
    writer.write((one + two).encode())
    await writer.drain()
    first = await read_response(reader)
    second = await read_response(reader)
    assert first.startswith(b"HTTP/1.1 202")
    assert second.startswith(b"HTTP/1.1 204")
    assert b"range: 0-2\r\n" in second

    writer.write(
        f"PATCH {path} HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n".encode()
    )
    await writer.drain()
    informational = await read_response(reader)
    assert informational.startswith(b"HTTP/1.1 100")
    writer.write(b"de")
    await writer.drain()
    third = await read_response(reader)
    assert third.startswith(b"HTTP/1.1 202")
    assert b"range: 0-4\r\n" in third
    writer.close()


async def test_a_chunked_body_and_the_request_after_it_in_one_write(running: Running) -> None:
    url = await running.begin()
    path = url.removeprefix(running.base)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
    chunked = (
        f"PATCH {path} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
    )
    status = f"GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    writer.write((chunked + status).encode())
    await writer.drain()
    first = await read_response(reader)
    assert first.startswith(b"HTTP/1.1 202"), first
    assert b"range: 0-6\r\n" in first
    second = await read_response(reader)
    assert second.startswith(b"HTTP/1.1 204")
    assert b"connection: close\r\n" in second
    async with asyncio.timeout(3):
        assert await reader.read() == b""
    writer.close()


async def test_a_body_split_over_many_writes_and_a_short_one(running: Running) -> None:
    url = await running.begin()
    path = url.removeprefix(running.base)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
    data = os.urandom(3 * MIB + 17)
    writer.write(f"PATCH {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len(data)}\r\n".encode())
    await writer.drain()
    writer.write(b"\r\n" + data[:5])
    for start in range(5, len(data), 999_983):
        writer.write(data[start : start + 999_983])
        await writer.drain()
    await took_all_then_completes(running, reader, writer, path, data)


async def took_all_then_completes(
    running: Running,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    path: str,
    data: bytes,
) -> None:
    """The PATCH sent on this connection is answered 202 with all of ``data``; a PUT after it on
    the same connection completes the blob, which reads back whole."""
    answer = await read_response(reader)
    assert answer.startswith(b"HTTP/1.1 202"), answer
    assert f"range: 0-{len(data) - 1}\r\n".encode() in answer
    writer.write(f"PUT {path}?digest={sha256(data)} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    await writer.drain()
    assert (await read_response(reader)).startswith(b"HTTP/1.1 201")
    writer.close()
    assert await running.blob(sha256(data)) == data


def low_water_of(running: Running) -> int:
    """The server side's ``SO_RCVLOWAT`` on the port's one connection."""
    (connection,) = running.port._connections
    assert connection.transport is not None
    sock = connection.transport.get_extra_info("socket")
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT))


@pytest.mark.skipif(not hasattr(socket, "SO_RCVLOWAT"), reason="no SO_RCVLOWAT here")
async def test_a_body_is_read_a_mib_at_a_time_and_the_rest_at_once(
    running: Running, http: httpx.AsyncClient
) -> None:
    url = await running.begin()
    path = url.removeprefix(running.base)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
    data = os.urandom(3 * MIB + 17)
    writer.write(
        f"PATCH {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len(data)}\r\n\r\n".encode()
    )
    writer.write(data[: MIB // 2])
    await writer.drain()
    await asyncio.sleep(0.05)
    assert low_water_of(running) == MIB
    writer.write(data[MIB // 2 :])
    answer = await read_response(reader)
    assert answer.startswith(b"HTTP/1.1 202"), answer
    assert low_water_of(running) == 1  # the next request's head is read as it comes
    writer.write(f"PATCH {path} HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n".encode())
    await writer.drain()
    await asyncio.sleep(0.05)
    assert low_water_of(running) == 1000
    writer.write(b"y" * 1000)
    assert (await read_response(reader)).startswith(b"HTTP/1.1 202")
    writer.close()
    expected = data + b"y" * 1000
    status = await http.get(url)
    assert status.headers["Range"] == f"0-{len(expected) - 1}"


async def test_a_slow_client_is_read_as_it_sends_not_timed_out(running: Running) -> None:
    """Pieces far below a MiB, a gap each shorter than the body timeout (0.5 s), the whole body
    longer than it: read each tick, never dropped."""
    url = await running.begin()
    path = url.removeprefix(running.base)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
    data = os.urandom(200_000)
    writer.write(
        f"PATCH {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len(data)}\r\n\r\n".encode()
    )
    for start in range(0, len(data), 20_000):
        writer.write(data[start : start + 20_000])
        await writer.drain()
        await asyncio.sleep(0.2)
    async with asyncio.timeout(3):
        await took_all_then_completes(running, reader, writer, path, data)


async def test_malformed_and_oversized_requests_get_an_error_and_a_close(running: Running) -> None:
    for request, status in [
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"GET /v2/_uploads/x HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 20_000 + b"\r\n\r\n", b"431"),
    ]:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(8):
            answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 " + status), answer[:100]
        assert b'"errors"' in answer
        writer.close()


async def test_an_early_refusal_of_a_large_body_is_read_by_the_client(
    running: Running, http: httpx.AsyncClient
) -> None:
    """The port answers before it reads the body; the client still gets the answer."""
    body = os.urandom(16 * MIB)
    refused = await http.patch(f"{running.base}/v2/_uploads/nope.nope", content=body)
    assert refused.status_code == 403
    assert refused.headers["Connection"] == "close"


async def test_idle_and_slow_header_connections_are_closed(running: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
    async with asyncio.timeout(3):
        assert await reader.read() == b""
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
    writer.write(b"GET /v2/_uploads/x HTTP/1.1\r\n")
    await writer.drain()
    async with asyncio.timeout(3):
        assert await reader.read() == b""
    writer.close()


async def test_stop_cuts_a_request_in_flight(app: BerthApp, client: httpx.AsyncClient) -> None:
    sock = bind_port("127.0.0.1", 0)
    number = sock.getsockname()[1]
    port = UploadPort(
        app.services,
        await app.services.downloads.signing_key(),
        UploadAddresses(number, None, 5000, None),
    )
    await port.start(sock)
    running = Running(port, number, app, client)
    url = await running.begin()
    reader, writer = await asyncio.open_connection("127.0.0.1", number)
    path = url.removeprefix(running.base)
    writer.write(f"PATCH {path} HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nab".encode())
    await writer.drain()
    await asyncio.sleep(0.1)
    async with asyncio.timeout(5):
        await port.stop()
        assert await reader.read() == b""
    writer.close()
    status = await client.get(f"/v2/{NAME}/blobs/uploads/{url_id(running, url)}")
    assert status.headers["Range"] == "0-0"


def url_id(running: Running, url: str) -> str:
    key = running.port.key
    return verify_upload_token(key, url.rsplit("/", 1)[1], 0).upload_id


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + (await reader.readexactly(length) if length else b"")


@pytest.fixture
def ported_app(tmp_path: Path) -> Iterator[BerthApp]:
    settings = load_settings(
        environ={}, data_dir=tmp_path, account_id=ACCOUNT_ID, upload_port=45123
    )
    yield create_app(settings)


async def test_the_registry_points_uploads_at_the_port(ported_app: BerthApp) -> None:
    await ported_app.startup()
    try:
        headers = {"Authorization": basic(ported_app.issue_root_token())}
        transport = httpx.ASGITransport(app=ported_app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost:5000", headers=headers
        ) as registry:
            started = await registry.post(f"/v2/{NAME}/blobs/uploads/")
            assert started.status_code == 202
            location = started.headers["Location"]
            assert location.startswith("http://localhost:45123/v2/_uploads/")
            grant = verify_upload_token(
                await ported_app.services.downloads.signing_key(), location.rsplit("/", 1)[1], 0
            )
            assert grant.repository == NAME
            assert grant.upload_id == started.headers["Docker-Upload-UUID"]
            assert grant.principal.is_root
            status = await registry.get(f"/v2/{NAME}/blobs/uploads/{grant.upload_id}")
            assert status.headers["Location"].startswith("http://localhost:45123/v2/_uploads/")
    finally:
        await ported_app.shutdown()


def test_a_trusted_proxy_names_the_client_and_its_scheme(running: Running) -> None:
    """As on the registry port (granian's proxy headers): the client is the last address in
    ``X-Forwarded-For`` that is not itself a trusted proxy."""
    request = h11.Request(
        method="PATCH",
        target="/v2/_uploads/x",
        headers=[
            ("Host", "h"),
            ("X-Forwarded-For", "203.0.113.9, 10.1.2.3"),
            ("X-Forwarded-Proto", "https"),
        ],
    )
    behind = UploadPort(
        running.app.services,
        running.port.key,
        UploadAddresses(1, None, 2, None, trusted_proxies=("10.0.0.0/8",)),
    )
    trusted = behind.origin("10.9.9.9", request)
    assert (trusted.source_ip, trusted.secure_transport) == ("203.0.113.9", True)
    hops = h11.Request(
        method="PATCH",
        target="/v2/_uploads/x",
        headers=[("Host", "h"), ("X-Forwarded-For", "203.0.113.9, 198.51.100.20")],
    )
    assert behind.origin("10.9.9.9", hops).source_ip == "198.51.100.20"
    stranger = behind.origin("198.51.100.7", request)
    assert (stranger.source_ip, stranger.secure_transport) == ("198.51.100.7", False)
    assert running.port.origin("10.9.9.9", request).source_ip == "10.9.9.9"


def test_everyone_is_trusted_only_when_asked(running: Running) -> None:
    request = h11.Request(
        method="GET", target="/", headers=[("Host", "h"), ("X-Forwarded-For", "203.0.113.9")]
    )
    for proxies, seen in [(("*",), "203.0.113.9"), (("not-an-address",), "10.9.9.9")]:
        port = UploadPort(
            running.app.services,
            running.port.key,
            UploadAddresses(1, None, 2, None, trusted_proxies=proxies),
        )
        assert port.origin("10.9.9.9", request).source_ip == seen
