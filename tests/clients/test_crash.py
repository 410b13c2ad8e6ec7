"""kill -9 during concurrent pushes: what was acknowledged survives, nothing partial shows."""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from .conftest import TARGET, RegistryServer, free_port
from .images import OCI_CONFIG, OCI_MANIFEST, canonical_json

pytestmark = pytest.mark.clients

MIB = 1024 * 1024
CHUNK = MIB
PIECE = 256 * 1024
LAYER = "application/vnd.oci.image.layer.v1.tar"
PAUSE_TIMEOUT = 60.0


@dataclass
class Push:
    """One push and how far the server acknowledged it.

    pause_at names where the push stops until the server has been killed: None (runs to the end),
    "blob-body" (half-way through a monolithic PUT), "blob-tail" (all but the last byte of a
    monolithic PUT), "patch-body" (half-way through a PATCH after others were acknowledged),
    "before-put" (all PATCHes acknowledged, digest PUT not sent), "before-manifest".
    """

    number: int
    size: int
    chunked: bool
    pause_at: str | None
    data: bytes = field(default=b"", repr=False)
    config: bytes = field(default=b"", repr=False)
    location: str = ""
    acknowledged_bytes: int = 0
    blob_acked: bool = False
    manifest: bytes = field(default=b"", repr=False)
    manifest_acked: bool = False
    error: str = ""
    paused: threading.Event = field(default_factory=threading.Event)
    upload_port: bool = False
    """Whether the registry sent this push's body to the upload port."""

    @property
    def digest(self) -> str:
        return sha256(self.data)

    @property
    def tag(self) -> str:
        return f"push-{self.number}"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def with_digest(location: str, digest: str) -> str:
    """The upload URL with ?digest= added (httpx's params= would drop the URL's own query)."""
    separator = "&" if "?" in location else "?"
    return f"{location}{separator}digest={digest}"


def body(data: bytes, pause_after: int | None, pause: Callable[[], None]) -> Iterator[bytes]:
    for start in range(0, len(data), PIECE):
        piece = data[start : start + PIECE]
        if pause_after is not None and start <= pause_after < start + len(piece):
            cut = pause_after - start
            yield piece[:cut]
            pause()
            yield piece[cut:]
        else:
            yield piece


class Pusher:
    """Drives one Push with plain httpx: POST, PATCH chunks or one PUT, then the manifest."""

    def __init__(self, server: RegistryServer, repository: str, killed: threading.Event) -> None:
        self.server = server
        self.repository = repository
        self.killed = killed

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, auth=self.server.auth, timeout=60.0)

    def pause(self, push: Push) -> None:
        push.paused.set()
        self.killed.wait(PAUSE_TIMEOUT)

    def start_upload(self, client: httpx.Client) -> str:
        response = client.post(f"/v2/{self.repository}/blobs/uploads/")
        assert response.status_code == 202, response.text
        return response.headers["Location"]

    def put_small_blob(self, client: httpx.Client, data: bytes) -> None:
        location = self.start_upload(client)
        response = client.put(with_digest(location, sha256(data)), content=data)
        assert response.status_code == 201, response.text

    def put_monolithic(self, client: httpx.Client, push: Push) -> httpx.Response:
        middle = {"blob-body": push.size // 2, "blob-tail": push.size - 1}.get(push.pause_at or "")
        content = body(push.data, middle, lambda: self.pause(push))
        headers = {"Content-Length": str(push.size), "Content-Type": "application/octet-stream"}
        url = with_digest(push.location, push.digest)
        return client.put(url, content=content, headers=headers)

    def patch_chunks(self, client: httpx.Client, push: Push) -> httpx.Response:
        chunks = range(0, push.size, CHUNK)
        for number, start in enumerate(chunks):
            chunk = push.data[start : start + CHUNK]
            pause_here = push.pause_at == "patch-body" and number == max(1, len(chunks) // 2)
            pause_after = len(chunk) // 2 if pause_here else None
            headers = {
                "Content-Range": f"{start}-{start + len(chunk) - 1}",
                "Content-Length": str(len(chunk)),
                "Content-Type": "application/octet-stream",
            }
            content = body(chunk, pause_after, lambda: self.pause(push))
            response = client.patch(push.location, content=content, headers=headers)
            assert response.status_code == 202, response.text
            push.location = response.headers["Location"]
            push.acknowledged_bytes = start + len(chunk)
        if push.pause_at == "before-put":
            self.pause(push)
        return client.put(with_digest(push.location, push.digest))

    def manifest_for(self, push: Push) -> bytes:
        layer = {"mediaType": LAYER, "digest": push.digest, "size": push.size}
        config = {"mediaType": OCI_CONFIG, "digest": sha256(push.config), "size": len(push.config)}
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config,
            "layers": [layer],
        }
        return canonical_json(manifest)

    def run(self, push: Push) -> None:
        try:
            with self.client() as client:
                self.put_small_blob(client, push.config)
                push.location = self.start_upload(client)
                push.upload_port = push.location.startswith("http")
                send = self.patch_chunks if push.chunked else self.put_monolithic
                response = send(client, push)
                assert response.status_code == 201, response.text
                push.blob_acked = True
                if push.pause_at == "before-manifest":
                    self.pause(push)
                push.manifest = self.manifest_for(push)
                url = f"/v2/{self.repository}/manifests/{push.tag}"
                headers = {"Content-Type": OCI_MANIFEST}
                response = client.put(url, content=push.manifest, headers=headers)
                assert response.status_code == 201, response.text
                push.manifest_acked = True
        except (httpx.HTTPError, AssertionError) as error:
            push.error = repr(error)
        finally:
            push.paused.set()


def plan() -> list[Push]:
    """Three pushes that finish, five that stop at different points when the server dies."""
    rng = random.Random(20240101)
    pauses = [None, None, None, "blob-body", "patch-body", "before-put", "blob-tail"]
    pauses.append("before-manifest")
    pushes = []
    for number, pause_at in enumerate(pauses):
        chunked = pause_at in ("patch-body", "before-put") or (pause_at is None and number % 2 == 0)
        size = rng.randint(1 * MIB, 20 * MIB) + rng.randint(0, 4095)
        if pause_at == "patch-body":
            size = max(size, 3 * MIB)
        push = Push(number, size, chunked, pause_at)
        push.data = os.urandom(size)
        push.config = json.dumps({"architecture": "amd64", "os": "linux", "n": number}).encode()
        pushes.append(push)
    return pushes


def check_blob(client: httpx.Client, repository: str, push: Push) -> str | None:
    """None when the blob reads back as it should; else what went wrong."""
    response = client.get(f"/v2/{repository}/blobs/{push.digest}")
    if response.status_code == 404 and not push.blob_acked:
        return None
    if response.status_code != 200:
        return f"GET blob of push {push.number}: {response.status_code} {response.text[:200]}"
    if sha256(response.content) != push.digest:
        got = len(response.content)
        return f"blob of push {push.number} reads back {got} bytes of {push.size}, digest differs"
    head = client.head(f"/v2/{repository}/blobs/{push.digest}")
    if head.headers.get("Content-Length") != str(push.size):
        return (
            f"HEAD blob of push {push.number}: Content-Length {head.headers.get('Content-Length')}"
        )
    return None


def check_manifest(client: httpx.Client, repository: str, push: Push) -> str | None:
    headers = {"Accept": OCI_MANIFEST}
    response = client.get(f"/v2/{repository}/manifests/{push.tag}", headers=headers)
    if response.status_code == 404 and not push.manifest_acked:
        return None
    if response.status_code != 200:
        return f"GET manifest of push {push.number}: {response.status_code} {response.text[:200]}"
    if response.content != push.manifest:
        return f"manifest of push {push.number} differs from what was pushed"
    return None


def resume_upload(client: httpx.Client, push: Push) -> str | None:
    """An upload cut off by the crash may be resumed or refused, but must not corrupt the blob."""
    status = client.get(push.location)
    if status.status_code == 404:
        return None
    if status.status_code != 204:
        return f"GET upload of push {push.number} after restart: {status.status_code}"
    offset = int(status.headers["Range"].split("-")[1]) + 1
    if not push.acknowledged_bytes <= offset <= push.size:
        return f"upload of push {push.number} resumes at {offset}, {push.acknowledged_bytes} acked"
    location = status.headers.get("Location", push.location)
    if offset < push.size:
        headers = {
            "Content-Range": f"{offset}-{push.size - 1}",
            "Content-Type": "application/octet-stream",
        }
        patched = client.patch(location, content=push.data[offset:], headers=headers)
        if patched.status_code != 202:
            return f"PATCH after restart for push {push.number}: {patched.status_code}"
        location = patched.headers["Location"]
    done = client.put(with_digest(location, push.digest))
    if done.status_code != 201:
        return f"PUT after restart for push {push.number}: {done.status_code} {done.text[:200]}"
    push.blob_acked = True
    return None


@pytest.mark.parametrize("side", ["registry-port", "upload-port"])
def test_acknowledged_pushes_survive_kill_9(
    server_factory: Callable[..., RegistryServer], side: str
) -> None:
    """With ``--upload-port`` the blob bodies go to the upload port and are cut there."""
    args = ["--upload-port", str(free_port())] if side == "upload-port" else []
    if args and TARGET != "berth":
        pytest.skip("the upload port is Berth's")
    server = server_factory(args)
    repository = f"clients/crash-{uuid.uuid4().hex[:8]}"
    server.create_repository(repository)
    killed = threading.Event()
    pusher = Pusher(server, repository, killed)
    pushes = plan()
    threads = [threading.Thread(target=pusher.run, args=(push,), daemon=True) for push in pushes]
    for thread in threads:
        thread.start()

    deadline = time.monotonic() + PAUSE_TIMEOUT
    for push in pushes:
        assert push.paused.wait(max(0.0, deadline - time.monotonic())), f"push {push} stuck"
        if push.pause_at is None:
            threads[push.number].join(max(0.0, deadline - time.monotonic()))
    early = [push for push in pushes if push.error]
    assert not early, "pushes failed before the crash: " + "; ".join(p.error for p in early)
    assert [push.manifest_acked for push in pushes[:3]] == [True] * 3
    assert not any(push.manifest_acked for push in pushes[3:])
    assert all(push.upload_port == bool(args) for push in pushes)

    server.kill()
    killed.set()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a push hung after the kill"
    server.restart()

    with httpx.Client(base_url=server.url, auth=server.auth, timeout=60.0) as client:
        problems = [check_blob(client, repository, push) for push in pushes]
        problems += [check_manifest(client, repository, push) for push in pushes]
        tags = client.get(f"/v2/{repository}/tags/list").json().get("tags") or []
        acked = sorted(push.tag for push in pushes if push.manifest_acked)
        if sorted(tags) != acked:
            problems.append(f"tags after restart are {sorted(tags)}, acknowledged {acked}")
        for push in pushes:
            if not push.blob_acked and push.chunked:
                problems.append(resume_upload(client, push))
                problems.append(check_blob(client, repository, push))
    found = [problem for problem in problems if problem]
    assert not found, "after kill -9 and restart:\n" + "\n".join(found)
