"""Helpers for the /v2 tests: digests, documents, pushes and error-body checks."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCTET = "application/octet-stream"

OCI_ERROR_CODES = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }
)


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def pretty(document: dict[str, Any]) -> bytes:
    """Indented JSON, as Go's json.MarshalIndent(v, "", "\\t") writes it."""
    return json.dumps(document, indent="\t").encode()


def descriptor(media_type: str, data: bytes, algorithm: str = "sha256") -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data, algorithm), "size": len(data)}


def image_manifest(
    config: bytes,
    layers: list[bytes],
    *,
    media_type: str = OCI_MANIFEST,
    config_type: str = OCI_CONFIG,
    layer_type: str = OCI_LAYER,
    algorithm: str = "sha256",
    **extra: Any,
) -> bytes:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(config_type, config, algorithm),
        "layers": [descriptor(layer_type, layer, algorithm) for layer in layers],
    }
    document.update(extra)
    return pretty(document)


def index_manifest(
    children: list[bytes],
    *,
    media_type: str = OCI_INDEX,
    child_type: str = OCI_MANIFEST,
    algorithm: str = "sha256",
    **extra: Any,
) -> bytes:
    manifests = []
    for i, child in enumerate(children):
        entry = descriptor(child_type, child, algorithm)
        entry["platform"] = {"architecture": ["amd64", "arm64", "s390x"][i % 3], "os": "linux"}
        manifests.append(entry)
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}
    document.update(extra)
    return pretty(document)


async def push_blob(
    client: httpx.AsyncClient, name: str, data: bytes, algorithm: str = "sha256"
) -> str:
    """POST then PUT with the bytes (the suite's setup path); returns the digest."""
    digest = digest_of(data, algorithm)
    started = await client.post(f"/v2/{name}/blobs/uploads/")
    assert started.status_code == 202, started.text
    done = await client.put(
        started.headers["Location"],
        params={"digest": digest},
        content=data,
        headers={"Content-Type": OCTET},
    )
    assert done.status_code == 201, done.text
    return digest


async def push_manifest(
    client: httpx.AsyncClient,
    name: str,
    reference: str,
    body: bytes,
    media_type: str = OCI_MANIFEST,
) -> httpx.Response:
    response = await client.put(
        f"/v2/{name}/manifests/{reference}", content=body, headers={"Content-Type": media_type}
    )
    assert response.status_code == 201, response.text
    return response


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An OCI error body: ``{"errors": [{"code", "message", ...}]}`` with the expected code."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list), body
    assert body["errors"], body
    first = body["errors"][0]
    assert first["code"] == code, body
    assert isinstance(first["message"], str) and first["message"], body
    return dict(first)
