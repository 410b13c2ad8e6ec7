"""Blob pushes and pulls through plain http.client: bodies go out with sendfile, responses are
read with a 4 MiB readinto and dropped, so the client copies nothing in Python."""

from __future__ import annotations

import hashlib
import http.client
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

MIB = 1024 * 1024
READ_BUFFER = 4 * MIB
SUFFIX = 16
IO_TIMEOUT = 900.0
REPOSITORY = "bench/blob"


class BlobFile:
    """A file of random bytes; its last 16 bytes are rewritten to make each push a new blob."""

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.size = path, size
        with path.open("wb") as output:
            for start in range(0, size, 16 * MIB):
                output.write(os.urandom(min(16 * MIB, size - start)))
        prefix = hashlib.sha256()
        with path.open("rb") as source:
            remaining = size - SUFFIX
            while remaining:
                piece = source.read(min(READ_BUFFER, remaining))
                prefix.update(piece)
                remaining -= len(piece)
        self.prefix = prefix
        self.digest = ""

    def make_variant(self, label: str) -> str:
        suffix = hashlib.sha256(label.encode()).digest()[:SUFFIX]
        with self.path.open("r+b") as output:
            output.seek(self.size - SUFFIX)
            output.write(suffix)
        state = self.prefix.copy()
        state.update(suffix)
        self.digest = "sha256:" + state.hexdigest()
        return self.digest


class Client:
    """One kept-alive connection per port: the registry's, and the upload port's when an
    upload's ``Location`` names it (sent there without the credentials, as clients do)."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port, self.headers = port, headers
        self.connections: dict[int, http.client.HTTPConnection] = {}

    def connection_to(self, port: int) -> http.client.HTTPConnection:
        if port not in self.connections:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=IO_TIMEOUT)
            self.connections[port] = connection
        return self.connections[port]

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()

    def send(
        self,
        method: str,
        target: str,
        body: tuple[BinaryIO, int, int] | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.client.HTTPResponse:
        port, own = self.port, self.headers
        if target.startswith("http"):
            parts = urlsplit(target)
            port, target = parts.port or 80, path_of(target)
            own = own if port == self.port else {}
        connection = self.connection_to(port)
        connection.putrequest(method, target, skip_accept_encoding=True)
        all_headers = {**own, **(headers or {})}
        length = len(body) if isinstance(body, bytes) else body[2] if body else 0
        all_headers["Content-Length"] = str(length)
        for name, value in all_headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        if isinstance(body, bytes):
            connection.send(body)
        elif body:
            source, offset, count = body
            assert connection.sock is not None
            connection.sock.sendfile(source, offset, count)
        return connection.getresponse()

    def call(
        self,
        method: str,
        target: str,
        expect: int,
        body: tuple[BinaryIO, int, int] | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        response = self.send(method, target, body, headers)
        data = response.read()
        if response.status != expect:
            raise RuntimeError(
                f"{method} {target}: {response.status}, expected {expect}: {data[:300]!r}"
            )
        return response, data


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def start_upload(client: Client, repository: str) -> str:
    response, _ = client.call("POST", f"/v2/{repository}/blobs/uploads/", 202)
    return str(response.headers["Location"])


def check_committed(response: http.client.HTTPResponse, digest: str) -> None:
    stored = response.headers.get("Docker-Content-Digest")
    if stored != digest:
        raise RuntimeError(f"registry stored {stored}, expected {digest}")


def push_bytes(client: Client, repository: str, data: bytes) -> str:
    """A small blob, monolithic; returns its digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = start_upload(client, repository)
    octets = {"Content-Type": "application/octet-stream"}
    client.call("PUT", with_digest(location, digest), 201, body=data, headers=octets)
    return digest


def push_monolithic(client: Client, blob: BlobFile, chunk: int) -> None:
    location = start_upload(client, REPOSITORY)
    with blob.path.open("rb") as source:
        octets = {"Content-Type": "application/octet-stream"}
        target = with_digest(location, blob.digest)
        response, _ = client.call("PUT", target, 201, body=(source, 0, blob.size), headers=octets)
    check_committed(response, blob.digest)


def push_chunked(client: Client, blob: BlobFile, chunk: int) -> None:
    location = start_upload(client, REPOSITORY)
    with blob.path.open("rb") as source:
        for offset in range(0, blob.size, chunk):
            count = min(chunk, blob.size - offset)
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + count - 1}",
            }
            body = (source, offset, count)
            response, _ = client.call("PATCH", location, 202, body=body, headers=headers)
            location = str(response.headers["Location"])
    response, _ = client.call("PUT", with_digest(location, blob.digest), 201)
    check_committed(response, blob.digest)


def drain(response: http.client.HTTPResponse) -> int:
    buffer = memoryview(bytearray(READ_BUFFER))
    total = 0
    while count := response.readinto(buffer):
        total += count
    return total


def fetch(port: int, headers: dict[str, str], target: str, size: int) -> None:
    """GET ``target`` as registry clients do: a 307 is followed, without the credentials."""
    client = Client(port, headers)
    try:
        response = client.send("GET", target)
        if response.status == 307:
            location = urlsplit(response.getheader("Location") or "")
            response.read()
            client.close()
            client = Client(location.port or 80, {})
            response = client.send("GET", location.path)
        if response.status != 200:
            raise RuntimeError(f"GET {target}: {response.status} {response.read()[:200]!r}")
        received = drain(response)
        if received != size:
            raise RuntimeError(f"pulled {received} bytes, expected {size}")
    finally:
        client.close()


def pull(port: int, headers: dict[str, str], target: str, size: int, parallel: int) -> None:
    if parallel == 1:
        fetch(port, headers, target, size)
        return
    with ThreadPoolExecutor(parallel) as pool:
        futures = [pool.submit(fetch, port, headers, target, size) for _ in range(parallel)]
        for future in futures:
            future.result()


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def hash_file(blob: BlobFile) -> None:
    with blob.path.open("rb") as source:
        hashlib.file_digest(source, "sha256")
