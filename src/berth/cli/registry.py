"""A small OCI Distribution client over ``http.client``: streaming, chunked uploads, Basic auth.

Memory stays flat: blobs move in pieces of at most ``CHUNK`` bytes, and an upload larger than one
chunk is sent as several ``PATCH`` requests with ``Content-Range`` (the spec's chunked upload).
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlencode, urljoin, urlsplit

__all__ = ["CHUNK", "MANIFEST_TYPES", "ImageRef", "Registry", "RegistryError"]

CHUNK = 8 * 1024 * 1024
PIECE = 1024 * 1024
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
Progress = Callable[[int], None]


class RegistryError(Exception):
    """The registry refused or failed a request; the message says which and why."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """``HOST/repository:tag`` or ``HOST/repository@sha256:...``."""

    host: str
    repository: str
    reference: str

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        text = text.removeprefix("docker://")
        host, slash, rest = text.partition("/")
        if not slash or not rest or not ("." in host or ":" in host or host == "localhost"):
            raise ValueError(f"{text!r} is not HOST/REPOSITORY[:TAG|@DIGEST]")
        if "@" in rest:
            repository, _, reference = rest.partition("@")
        else:
            name, colon, tag = rest.rpartition(":")
            repository, reference = (name, tag) if colon and "/" not in tag else (rest, "latest")
        return cls(host, repository, reference)

    @property
    def tag(self) -> str | None:
        return None if self.reference.startswith("sha256:") else self.reference

    def __str__(self) -> str:
        separator = "@" if self.tag is None else ":"
        return f"{self.host}/{self.repository}{separator}{self.reference}"


def _error_text(status: int, body: bytes) -> str:
    try:
        errors = json.loads(body).get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or str(status)
    except (ValueError, AttributeError):
        return body[:200].decode(errors="replace") or str(status)


class Registry:
    """One registry, one connection (re-opened when the server closes it)."""

    def __init__(
        self, scheme: str, host: str, username: str, password: str, verify: bool = True
    ) -> None:
        self.scheme = scheme
        self.host = host
        pair = f"{username}:{password}".encode()
        self._auth = "Basic " + base64.b64encode(pair).decode()
        self._context = None if verify else ssl._create_unverified_context()
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self, scheme: str, host: str) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(host, timeout=300, context=self._context)
        return http.client.HTTPConnection(host, timeout=300)

    def _send(
        self, method: str, path: str, headers: dict[str, str], body: bytes | IO[bytes] | None
    ) -> http.client.HTTPResponse:
        headers = {"Authorization": self._auth, **headers}
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = self._connect(self.scheme, self.host)
            try:
                self._connection.request(method, path, body=body, headers=headers)
                return self._connection.getresponse()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self._connection.close()
                self._connection = None
                if attempt == 2 or (body is not None and not isinstance(body, bytes)):
                    raise
        raise AssertionError("unreachable")

    def _call(
        self,
        method: str,
        path: str,
        expect: tuple[int, ...],
        headers: dict[str, str] | None = None,
        body: bytes | IO[bytes] | None = None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        response = self._send(method, path, headers or {}, body)
        data = response.read()
        if response.status not in expect:
            what = f"{method} {self.host}{path.split('?', maxsplit=1)[0]}"
            if response.status == 401:
                raise RegistryError(f"{what}: not authorized (HTTP 401): {_error_text(401, data)}")
            raise RegistryError(
                f"{what}: HTTP {response.status}: {_error_text(response.status, data)}"
            )
        return response, data

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()

    # -- blobs ----------------------------------------------------------------------------------

    def has_blob(self, repository: str, digest: str) -> bool:
        response, _ = self._call("HEAD", f"/v2/{repository}/blobs/{digest}", (200, 404))
        return response.status == 200

    def upload_blob(
        self, repository: str, digest: str, size: int, source: IO[bytes], progress: Progress
    ) -> None:
        """Upload ``size`` bytes from ``source``: one PUT when small, else PATCH per chunk."""
        response, _ = self._call("POST", f"/v2/{repository}/blobs/uploads/", (202,))
        location = self._location(response, repository)
        if size <= CHUNK:
            data = source.read(size)
            self._finish(location, digest, data)
            progress(len(data))
            return
        offset = 0
        while offset < size:
            data = source.read(min(CHUNK, size - offset))
            if not data:
                raise RegistryError(f"the source of {digest} ended at byte {offset} of {size}")
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(data) - 1}",
                "Content-Length": str(len(data)),
            }
            response, _ = self._call("PATCH", location, (202,), headers, data)
            location = self._location(response, repository)
            offset += len(data)
            progress(len(data))
        self._finish(location, digest, b"")

    def _finish(self, location: str, digest: str, data: bytes) -> None:
        separator = "&" if "?" in location else "?"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
        self._call(
            "PUT", f"{location}{separator}{urlencode({'digest': digest})}", (201,), headers, data
        )

    def _location(self, response: http.client.HTTPResponse, repository: str) -> str:
        location = response.getheader("Location")
        if not location:
            raise RegistryError(f"the registry gave no upload location for {repository}")
        parts = urlsplit(urljoin(f"{self.scheme}://{self.host}/", location))
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def download_blob(
        self, repository: str, digest: str, sink: IO[bytes], progress: Progress
    ) -> None:
        """Stream a blob into ``sink``, following a redirect to a presigned URL."""
        response = self._send("GET", f"/v2/{repository}/blobs/{digest}", {}, None)
        if response.status in (301, 302, 303, 307, 308):
            location = response.getheader("Location") or ""
            response.read()
            response = self._redirected(urljoin(f"{self.scheme}://{self.host}/", location))
        if response.status != 200:
            data = response.read()
            raise RegistryError(
                f"GET blob {digest}: HTTP {response.status}: {_error_text(response.status, data)}"
            )
        for piece in _pieces(response):
            sink.write(piece)
            progress(len(piece))

    def _redirected(self, url: str) -> http.client.HTTPResponse:
        parts = urlsplit(url)
        connection = self._connect(parts.scheme, parts.netloc)
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        return connection.getresponse()

    # -- manifests ------------------------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str) -> tuple[str, bytes]:
        """The manifest's media type and its bytes, as stored."""
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        response, data = self._call(
            "GET", f"/v2/{repository}/manifests/{reference}", (200,), headers
        )
        media_type = (response.getheader("Content-Type") or "").split(";")[0].strip()
        return media_type or str(json.loads(data).get("mediaType", "")), data

    def put_manifest(self, repository: str, reference: str, media_type: str, body: bytes) -> str:
        """Push a manifest; the digest the registry reports."""
        headers = {"Content-Type": media_type, "Content-Length": str(len(body))}
        response, _ = self._call(
            "PUT", f"/v2/{repository}/manifests/{reference}", (201,), headers, body
        )
        return response.getheader("Docker-Content-Digest") or ""


def _pieces(response: http.client.HTTPResponse) -> Iterator[bytes]:
    while True:
        piece = response.read(PIECE)
        if not piece:
            return
        yield piece
