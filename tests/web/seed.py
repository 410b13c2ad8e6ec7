"""Images for the console tests, pushed through the services (no HTTP): configs, layers, indexes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from berth.meta.base import Repository
from berth.services import Services
from berth.types import Digest, RepositoryName, Tag

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

CONFIG: dict[str, Any] = {
    "created": "2024-05-01T12:00:00Z",
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "Entrypoint": ["/usr/bin/web"],
        "Cmd": ["--port", "8080"],
        "Env": ["PATH=/usr/bin", "MODE=production"],
        "Labels": {"org.opencontainers.image.source": "https://example.com/web"},
        "WorkingDir": "/srv",
        "ExposedPorts": {"8080/tcp": {}},
    },
    "rootfs": {"type": "layers", "diff_ids": []},
    "history": [
        {"created": "2024-05-01T11:59:00Z", "created_by": "ADD rootfs.tar /"},
        {
            "created": "2024-05-01T12:00:00Z",
            "created_by": "ENV MODE=production",
            "empty_layer": True,
        },
    ],
}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data), **extra}


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def put_blob(services: Services, repository: Repository, data: bytes) -> None:
    await services.uploads.upload_whole(repository, Digest.parse(digest_of(data)), _chunks(data))


async def repository(services: Services, name: str) -> Repository:
    return await services.repositories.ensure(RepositoryName(name))


async def push_image(
    services: Services,
    name: str,
    tag: str | None,
    *,
    layers: tuple[bytes, ...] = (b"layer-one" * 100, b"layer-two" * 50),
    config: dict[str, Any] | None = None,
    config_type: str = OCI_CONFIG,
    **extra: Any,
) -> str:
    """Push the blobs and the manifest; tag it when ``tag`` is given. Returns the digest."""
    target = await repository(services, name)
    config_bytes = json.dumps(CONFIG if config is None else config).encode()
    for blob in (config_bytes, *layers):
        await put_blob(services, target, blob)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(config_type, config_bytes),
        "layers": [descriptor(OCI_LAYER, layer) for layer in layers],
        **extra,
    }
    body = json.dumps(document, indent=2).encode()
    reference: Tag | Digest = Tag(tag) if tag else Digest.parse(digest_of(body))
    manifest = await services.images.put(target, reference, body, OCI_MANIFEST)
    return manifest.digest


async def push_index(services: Services, name: str, tag: str, children: list[str]) -> str:
    """An index over manifests already in the repository (amd64 then arm64)."""
    target = await repository(services, name)
    platforms = [
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64", "variant": "v8"},
    ]
    entries = []
    for child, platform in zip(children, platforms, strict=False):
        manifest = await services.images.resolve(target, Digest.parse(child))
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": child,
                "size": manifest.size,
                "platform": platform,
            }
        )
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    manifest = await services.images.put(target, Tag(tag), body, OCI_INDEX)
    return manifest.digest


async def push_signature(services: Services, name: str, subject: str) -> str:
    """A referrer (as cosign or notation push): an artifact whose subject is ``subject``."""
    target = await repository(services, name)
    subject_manifest = await services.images.resolve(target, Digest.parse(subject))
    empty = b"{}"
    signature = b"signature-bytes"
    await put_blob(services, target, empty)
    await put_blob(services, target, signature)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": descriptor(OCI_EMPTY, empty),
        "layers": [descriptor("application/vnd.dev.cosign.simplesigning.v1+json", signature)],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_manifest.size},
    }
    body = json.dumps(document).encode()
    manifest = await services.images.put(target, Digest.parse(digest_of(body)), body, OCI_MANIFEST)
    return manifest.digest
