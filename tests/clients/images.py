"""Write OCI image layouts with random content, so real clients have something to copy."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def as_json(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class Layout:
    """An OCI image layout on disk and the descriptor its tag points at."""

    path: Path
    tag: str
    top: Descriptor
    children: tuple[Descriptor, ...] = ()
    transport: str = "oci"

    @property
    def reference(self) -> str:
        """The skopeo image reference of this layout."""
        if self.transport == "dir":
            return f"dir:{self.path}"
        return f"oci:{self.path}:{self.tag}"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def random_tar(files: int, file_size: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for number in range(files):
            data = os.urandom(file_size)
            info = tarfile.TarInfo(f"data/file-{number:03d}.bin")
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_blob(root: Path, data: bytes, media_type: str) -> Descriptor:
    digest = sha256_digest(data)
    blob_dir = root / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    (blob_dir / digest.removeprefix("sha256:")).write_bytes(data)
    return Descriptor(media_type, digest, len(data))


def write_layers(
    root: Path, count: int, layer_media_type: str, file_size: int
) -> tuple[list[Descriptor], list[str]]:
    layers, diff_ids = [], []
    for _ in range(count):
        tar = random_tar(files=3, file_size=file_size)
        diff_ids.append(sha256_digest(tar))
        layers.append(write_blob(root, gzip.compress(tar, mtime=0), layer_media_type))
    return layers, diff_ids


def image_config(architecture: str, diff_ids: list[str]) -> bytes:
    config = {
        "architecture": architecture,
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "berth test"}]
        * len(diff_ids),
    }
    return canonical_json(config)


def write_image(
    root: Path,
    *,
    layer_count: int = 3,
    architecture: str = "amd64",
    docker: bool = False,
    file_size: int = 64 * 1024,
) -> Descriptor:
    """Write the blobs and manifest of one image; return the manifest's descriptor."""
    layer_type, config_type, manifest_type = (
        (DOCKER_LAYER, DOCKER_CONFIG, DOCKER_MANIFEST)
        if docker
        else (OCI_LAYER, OCI_CONFIG, OCI_MANIFEST)
    )
    layers, diff_ids = write_layers(root, layer_count, layer_type, file_size)
    config = write_blob(root, image_config(architecture, diff_ids), config_type)
    manifest = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config.as_json(),
        "layers": [layer.as_json() for layer in layers],
    }
    return write_blob(root, canonical_json(manifest), manifest_type)


def write_index_file(root: Path, top: Descriptor, tag: str) -> None:
    entry = {**top.as_json(), "annotations": {REF_NAME: tag}}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
    (root / "index.json").write_bytes(canonical_json(index))
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')


def write_image_layout(root: Path, tag: str = "latest", *, layer_count: int = 3) -> Layout:
    """An OCI layout holding one image."""
    manifest = write_image(root, layer_count=layer_count)
    write_index_file(root, manifest, tag)
    return Layout(root, tag, manifest)


def write_docker_dir(root: Path, *, layer_count: int = 3) -> Layout:
    """A Docker schema 2 image in skopeo's `dir:` format (an OCI layout cannot hold one)."""
    staging = root / "staging"
    manifest = write_image(staging, layer_count=layer_count, docker=True)
    for blob in (staging / "blobs" / "sha256").iterdir():
        blob.rename(root / blob.name)
    (root / "manifest.json").write_bytes(read_blob(root, manifest.digest, flat=True))
    (root / "version").write_text("Directory Transport Version: 1.1\n")
    staging.joinpath("blobs", "sha256").rmdir()
    staging.joinpath("blobs").rmdir()
    staging.rmdir()
    return Layout(root, "", manifest, transport="dir")


def write_multiarch_layout(root: Path, tag: str = "multi") -> Layout:
    """An OCI layout whose tag points at an index of linux/amd64 and linux/arm64 images."""
    children = []
    entries = []
    for architecture in ("amd64", "arm64"):
        child = write_image(root, layer_count=2, architecture=architecture)
        children.append(child)
        platform = {"architecture": architecture, "os": "linux"}
        entries.append({**child.as_json(), "platform": platform})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    top = write_blob(root, canonical_json(index), OCI_INDEX)
    write_index_file(root, top, tag)
    return Layout(root, tag, top, tuple(children))


def layout_digest(root: Path, tag: str) -> str:
    """The digest a layout's index.json gives for a tag."""
    index = json.loads((root / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get(REF_NAME) == tag:
            return str(entry["digest"])
    raise KeyError(f"tag {tag!r} not in {root}/index.json")


def read_blob(root: Path, digest: str, *, flat: bool = False) -> bytes:
    """A blob of an OCI layout (or, with flat, of a skopeo `dir:` directory)."""
    algorithm, hex_digest = digest.split(":", 1)
    if flat:
        return (root / hex_digest).read_bytes()
    return (root / "blobs" / algorithm / hex_digest).read_bytes()
