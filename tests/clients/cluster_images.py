"""Images for the cluster test: gzip layouts skopeo pushes unchanged, raw pushes, and pulls that
check every digest."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from .images import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Layout,
    canonical_json,
    sha256_digest,
    write_blob,
    write_index_file,
)

RAW_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class Image:
    """An image a client was told is stored: its repository, tag and manifest digest."""

    repository: str
    tag: str
    digest: str


def gzipped(size: int) -> bytes:
    """A layer as skopeo pushes it unchanged: gzip (of random bytes)."""
    return gzip.compress(os.urandom(size), compresslevel=1, mtime=0)


def layered_layout(root: Path, tag: str, layers: list[bytes]) -> Layout:
    """An image of these gzip layers."""
    descriptors = [write_blob(root, layer, OCI_LAYER) for layer in layers]
    config = write_blob(
        root,
        canonical_json({"architecture": "amd64", "os": "linux", "tag": tag}),
        OCI_CONFIG,
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.as_json(),
        "layers": [descriptor.as_json() for descriptor in descriptors],
    }
    top = write_blob(root, canonical_json(manifest), OCI_MANIFEST)
    write_index_file(root, top, tag)
    return Layout(root, tag, top)


def check_blob(client: httpx.Client, repository: str, digest: str) -> str | None:
    response = client.get(f"/v2/{repository}/blobs/{digest}", follow_redirects=True)
    if response.status_code != 200:
        return f"{client.base_url} blob {digest} of {repository}: {response.status_code}"
    if sha256_digest(response.content) != digest:
        return f"{client.base_url} blob {digest} of {repository} reads back different bytes"
    return None


def check_image(client: httpx.Client, image: Image) -> list[str]:
    """Pull an image with every blob it names, checking every digest; the problems found."""
    accept = ", ".join([OCI_MANIFEST, OCI_INDEX])
    pending, problems = [image.tag], []
    while pending:
        reference = pending.pop()
        response = client.get(
            f"/v2/{image.repository}/manifests/{reference}", headers={"Accept": accept}
        )
        where = f"{client.base_url} {image.repository}:{reference}"
        if response.status_code != 200:
            problems.append(f"{where}: {response.status_code} {response.text[:200]}")
            continue
        digest = sha256_digest(response.content)
        if reference == image.tag and digest != image.digest:
            problems.append(f"{where} is {digest}, pushed {image.digest}")
        manifest = json.loads(response.content)
        pending += [child["digest"] for child in manifest.get("manifests", [])]
        for blob in [manifest.get("config"), *manifest.get("layers", [])]:
            if blob is not None:
                problems.append(check_blob(client, image.repository, blob["digest"]) or "")
    return [problem for problem in problems if problem]


def with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def push_raw(client: httpx.Client, repository: str, tag: str, layer: bytes) -> Image:
    """The whole push again, the way a client retries: config, layer, manifest."""
    config = canonical_json({"architecture": "amd64", "os": "linux", "retry": tag})
    for blob in (config, layer):
        started = client.post(f"/v2/{repository}/blobs/uploads/")
        assert started.status_code == 202, started.text
        done = client.put(
            with_digest(started.headers["Location"], sha256_digest(blob)),
            content=blob,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": RAW_LAYER, "digest": sha256_digest(layer), "size": len(layer)}
            ],
        }
    )
    response = client.put(
        f"/v2/{repository}/manifests/{tag}",
        content=manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert response.status_code == 201, response.text
    return Image(repository, tag, sha256_digest(manifest))
