"""The download port: signed blob downloads (sendfile, or copied to local clients), and everything
it refuses."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.api.download_port import (
    _COPY_TURN,
    DownloadPort,
    _Copier,
    _on_loopback,
)
from berth.api.side_ports import bind_port
from berth.services.downloads import sign_download_token
from berth.storage.layout import blob_key
from berth.types import Digest

KEY = b"k" * 32
NOW = 1_800_000_000.0
BLOB = bytes(range(256)) * 4096 + b"tail"


class Recorder:
    """A DownloadTelemetry that keeps what it is told; read it after ``stop()``."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.sent: list[int] = []

    def download_answered(self, status: int) -> None:
        self.statuses.append(status)

    def download_sent(self, size: int) -> None:
        self.sent.append(size)


@dataclass
class Running:
    port: DownloadPort
    address: tuple[str, int]
    digest: Digest
    root: Path

    def url(
        self, digest: Digest | None = None, *, expires: float = NOW + 60, key: bytes = KEY
    ) -> str:
        token = sign_download_token(key, "team/app", str(digest or self.digest), int(expires))
        return f"/v2/_downloads/{token}"

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(*self.address, timeout=5)

    def raw(self) -> socket.socket:
        return socket.create_connection(self.address, timeout=5)


def store(root: Path, data: bytes) -> tuple[Digest, Path]:
    """``data`` as a blob in ``root``'s folders: its digest and its file."""
    digest = Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())
    path = root / blob_key(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest, path


@pytest.fixture(params=[True, False], ids=["copied", "sendfile"])
def copying(request: pytest.FixtureRequest) -> bool:
    """Every client here is on loopback: each test runs with the copy for local clients and
    with the ``sendfile`` every other client gets."""
    return bool(request.param)


@pytest.fixture
def served(tmp_path: Path, copying: bool) -> Iterator[Running]:
    digest, _ = store(tmp_path, BLOB)
    port = DownloadPort(
        tmp_path,
        KEY,
        clock=lambda: NOW,
        header_timeout=0.5,
        idle_timeout=1.0,
        copy_to_loopback=copying,
    )
    sock = bind_port("127.0.0.1", 0)
    address = sock.getsockname()
    port.start(sock)
    try:
        yield Running(port, address, digest, tmp_path)
    finally:
        port.stop()


def get(
    running: Running, target: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    connection = running.connect()
    connection.request(method, target, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def error_code(body: bytes) -> str:
    return str(json.loads(body)["errors"][0]["code"])


def test_a_signed_url_downloads_the_whole_blob(served: Running) -> None:
    response, body = get(served, served.url())
    assert response.status == 200
    assert body == BLOB
    assert response.getheader("Content-Length") == str(len(BLOB))
    assert response.getheader("Docker-Content-Digest") == str(served.digest)
    assert response.getheader("Content-Type") == "application/octet-stream"


def test_head_gives_the_headers_and_no_body(served: Running) -> None:
    response, body = get(served, served.url(), "HEAD")
    assert (response.status, body) == (200, b"")
    assert response.getheader("Content-Length") == str(len(BLOB))


def test_one_connection_serves_requests_in_turn(served: Running) -> None:
    connection = served.connect()
    for method in ("HEAD", "GET", "GET"):
        connection.request(method, served.url(), headers={"Range": "bytes=0-9"})
        response = connection.getresponse()
        assert response.status == 206
        assert response.read() == (b"" if method == "HEAD" else BLOB[:10])
    connection.close()


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=10-19", 10, 20),
        ("bytes=-4", len(BLOB) - 4, len(BLOB)),
        ("bytes=1000000-", 1000000, len(BLOB)),
    ],
)
def test_a_range_gives_206_and_those_bytes(
    served: Running, header: str, start: int, end: int
) -> None:
    response, body = get(served, served.url(), headers={"Range": header})
    assert response.status == 206
    assert body == BLOB[start:end]
    assert response.getheader("Content-Range") == f"bytes {start}-{end - 1}/{len(BLOB)}"


def test_an_unsatisfiable_range_is_a_416_naming_the_size(served: Running) -> None:
    response, body = get(served, served.url(), headers={"Range": f"bytes={len(BLOB)}-"})
    assert response.status == 416
    assert response.getheader("Content-Range") == f"bytes */{len(BLOB)}"
    assert error_code(body) == "BLOB_UPLOAD_INVALID"


@pytest.mark.parametrize(
    "target",
    [
        "tampered",
        "expired",
        "other key",
    ],
)
def test_a_url_that_is_not_signed_now_is_refused(served: Running, target: str) -> None:
    url = {
        "tampered": served.url()[:-3] + "abc",
        "expired": served.url(expires=NOW),
        "other key": served.url(key=b"x" * 32),
    }[target]
    response, body = get(served, url)
    assert response.status == 403
    assert error_code(body) == "DENIED"
    assert "expired" in json.loads(body)["errors"][0]["message"]


def test_a_blob_that_is_gone_is_404_blob_unknown(served: Running) -> None:
    gone = Digest.parse("sha256:" + "0" * 64)
    response, body = get(served, served.url(gone))
    assert response.status == 404
    assert error_code(body) == "BLOB_UNKNOWN"


def test_other_methods_are_405_with_allow(served: Running) -> None:
    response, body = get(served, served.url(), "DELETE")
    assert response.status == 405
    assert response.getheader("Allow") == "GET, HEAD"
    assert error_code(body) == "UNSUPPORTED"


@pytest.mark.parametrize(
    "target", ["/", "/v2/", "/v2/_downloads/", "/v2/_downloads/a/b", "/etc/passwd"]
)
def test_other_paths_are_404(served: Running, target: str) -> None:
    response, body = get(served, target)
    assert response.status == 404
    assert error_code(body) == "UNSUPPORTED"


def test_each_response_and_the_bytes_sent_are_reported(tmp_path: Path, copying: bool) -> None:
    recorder = Recorder()
    digest, _ = store(tmp_path, BLOB)
    port = DownloadPort(
        tmp_path, KEY, clock=lambda: NOW, telemetry=recorder, copy_to_loopback=copying
    )
    sock = bind_port("127.0.0.1", 0)
    running = Running(port, sock.getsockname(), digest, tmp_path)
    port.start(sock)
    try:
        assert get(running, running.url())[1] == BLOB
        assert get(running, running.url(), headers={"Range": "bytes=10-19"})[0].status == 206
        assert get(running, running.url(), "HEAD")[0].status == 200
        assert get(running, running.url(expires=NOW))[0].status == 403
        assert get(running, "/elsewhere")[0].status == 404
        with running.raw() as raw:
            raw.sendall(b"this is not http\r\n\r\n")
            assert read_all(raw).startswith(b"HTTP/1.1 400 ")
    finally:
        port.stop()
    assert recorder.statuses == [200, 206, 200, 403, 404, 400]
    assert recorder.sent == [len(BLOB), 10]


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_malformed_request_is_a_400_and_the_connection_closes(served: Running) -> None:
    with served.raw() as sock:
        sock.sendall(b"this is not http\r\n\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b'"code": "UNSUPPORTED"' in answer


def test_oversized_headers_are_a_431(served: Running) -> None:
    with served.raw() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_client_slow_to_send_its_headers_is_dropped(served: Running) -> None:
    with served.raw() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        started = time.monotonic()
        assert read_all(sock) == b""
        assert time.monotonic() - started < 3


def test_an_idle_connection_is_closed(served: Running) -> None:
    with served.raw() as sock:
        started = time.monotonic()
        assert read_all(sock) == b""
        assert 0.5 < time.monotonic() - started < 4


def test_stop_ends_the_server_with_a_connection_open(tmp_path: Path) -> None:
    """Straight after a response, many times: on Python 3.11 a ``wait_for`` dropped the stop's
    cancellation about one time in three, and stop() waited out the 60-second idle timeout."""
    for _ in range(20):
        port = DownloadPort(tmp_path, KEY, idle_timeout=60)
        sock = bind_port("127.0.0.1", 0)
        address = sock.getsockname()
        port.start(sock)
        with socket.create_connection(address, timeout=5) as client:
            client.sendall(b"GET /v2/_downloads/x HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(12) == b"HTTP/1.1 403"
            started = time.monotonic()
            port.stop()
            assert time.monotonic() - started < 3
        with pytest.raises(OSError), socket.create_connection(address, timeout=1):
            pass


def test_a_taken_port_fails_to_bind() -> None:
    with bind_port("127.0.0.1", 0) as taken, pytest.raises(OSError):
        bind_port("127.0.0.1", taken.getsockname()[1])


def test_an_empty_blob_is_an_empty_200(served: Running) -> None:
    empty, _ = store(served.root, b"")
    response, body = get(served, served.url(empty))
    assert (response.status, body) == (200, b"")
    assert response.getheader("Content-Length") == "0"


def test_an_http_1_0_client_gets_its_answer_and_the_connection_closes(served: Running) -> None:
    with served.raw() as sock:
        sock.sendall(f"GET {served.url()} HTTP/1.0\r\nRange: bytes=0-3\r\n\r\n".encode())
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 206 ")
    assert answer.endswith(b"\r\n\r\n" + BLOB[:4])


def test_a_client_that_stops_reading_is_dropped(tmp_path: Path, copying: bool) -> None:
    big = bytes(32 << 20)
    digest, _ = store(tmp_path, big)
    recorder = Recorder()
    port = DownloadPort(
        tmp_path,
        KEY,
        clock=lambda: NOW,
        send_timeout=0.5,
        telemetry=recorder,
        copy_to_loopback=copying,
    )
    listener = bind_port("127.0.0.1", 0)
    address = listener.getsockname()
    port.start(listener)
    try:
        token = sign_download_token(KEY, "team/app", str(digest), int(NOW + 60))
        with socket.socket() as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.settimeout(10)
            client.connect(address)
            client.sendall(f"GET /v2/_downloads/{token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            time.sleep(2)
            head, received = b"", 0
            with contextlib.suppress(ConnectionResetError):
                while b"\r\n\r\n" not in head and (chunk := client.recv(1 << 20)):
                    head += chunk
                received = len(head) - head.index(b"\r\n\r\n") - 4
                while chunk := client.recv(1 << 20):
                    received += len(chunk)
        assert 0 < received < len(big)
    finally:
        port.stop()
    assert recorder.statuses == [200]
    assert len(recorder.sent) == 1
    assert received <= recorder.sent[0] < len(big)


def test_blobs_larger_than_any_socket_buffer_arrive_whole_in_parallel(served: Running) -> None:
    big = os.urandom(1 << 20) * 48
    digest, _ = store(served.root, big)

    def download_twice() -> list[str]:
        connection = served.connect()
        digests = []
        for _ in range(2):
            connection.request("GET", served.url(digest))
            response = connection.getresponse()
            assert response.status == 200
            digests.append("sha256:" + hashlib.sha256(response.read()).hexdigest())
        connection.close()
        return digests

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: download_twice(), range(4)))
    assert results == [[str(digest)] * 2] * 4


def test_small_blobs_on_one_connection_never_wait_for_a_delayed_ack(served: Running) -> None:
    """Nagle is on only while a file is sent; left on, each small blob's last segment waited
    for the client's delayed ACK (44 ms a request, measured)."""
    small = b"{}" * 200
    digest, _ = store(served.root, small)
    connection = served.connect()
    took = []
    for _ in range(40):
        started = time.perf_counter()
        connection.request("GET", served.url(digest))
        assert connection.getresponse().read() == small
        took.append(time.perf_counter() - started)
    connection.close()
    assert sorted(took)[len(took) // 2] < 0.02


def test_a_blob_that_shrinks_while_it_is_sent_is_cut_never_padded(served: Running) -> None:
    big = os.urandom(1 << 20) * 32
    digest, path = store(served.root, big)
    connection = served.connect()
    connection.request("GET", served.url(digest))
    response = connection.getresponse()
    first = response.read(1 << 20)
    with path.open("r+b") as blob:
        blob.truncate(4 << 20)
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    connection.close()
    received = first + cut.value.partial
    assert len(received) < len(big)
    assert received == big[: len(received)]


@pytest.mark.parametrize(
    ("peer", "local"),
    [
        (("127.0.0.1", 5000), True),
        (("127.8.9.10", 5000), True),
        (("::1", 5000, 0, 0), True),
        (("::ffff:127.0.0.1", 5000, 0, 0), True),
        (("10.0.0.7", 5000), False),
        (("2001:db8::1", 5000, 0, 0), False),
        (("::ffff:10.0.0.7", 5000, 0, 0), False),
    ],
)
def test_only_clients_on_this_machine_get_the_copy(peer: tuple[object, ...], local: bool) -> None:
    class Peer:
        def getpeername(self) -> tuple[object, ...]:
            return peer

    assert _on_loopback(Peer()) is local  # type: ignore[arg-type]


def test_a_client_gone_before_its_address_is_read_gets_no_copy() -> None:
    class Gone:
        def getpeername(self) -> tuple[object, ...]:
            raise OSError("not connected")

    assert _on_loopback(Gone()) is False  # type: ignore[arg-type]


async def test_a_local_client_draining_at_once_still_lets_the_others_be_served(
    tmp_path: Path,
) -> None:
    """A loopback reader empties its socket as fast as it is filled; each writability callback
    sends at most one turn, so the port's loop goes back to its other clients in between."""
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(_COPY_TURN * 3 + 5))

    class Drains:
        def __init__(self) -> None:
            self.received = bytearray()

        def fileno(self) -> int:
            return sink.fileno()  # never registered with the loop: only looked up

        def send(self, data: memoryview) -> int:
            self.received += data
            return len(data)

    client = Drains()
    with path.open("rb") as blob, socket.socket() as sink:
        copier = _Copier(client, blob.fileno(), 0, path.stat().st_size, 60)  # type: ignore[arg-type]
        turns = 0
        while not copier.done.done():
            copier._send()
            turns += 1
        copier.timer.cancel()
    assert turns == 4
    assert bytes(client.received) == path.read_bytes()


def test_a_local_client_is_copied_to_only_while_no_other_transfer_runs(
    served: Running, copying: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under concurrency the server's core is busy and ``sendfile`` costs it less."""
    import berth.api.download_port as port_module

    kinds: list[str] = []

    class Copier(port_module._Copier):
        def __init__(self, *args: object) -> None:
            kinds.append("copy")
            super().__init__(*args)  # type: ignore[arg-type]

    class FileSender(port_module._FileSender):
        def __init__(self, *args: object) -> None:
            kinds.append("sendfile")
            super().__init__(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(port_module, "_Copier", Copier)
    monkeypatch.setattr(port_module, "_FileSender", FileSender)
    big = os.urandom(1 << 20) * 32
    digest, _ = store(served.root, big)
    first = served.connect()
    first.request("GET", served.url(digest))
    held = first.getresponse()
    start = held.read(1 << 20)  # the rest waits in the port: the transfer stays in flight
    response, body = get(served, served.url(digest))
    assert response.status == 200
    assert body == big
    assert start + held.read() == big
    first.close()
    assert kinds == (["copy", "sendfile"] if copying else ["sendfile", "sendfile"])
