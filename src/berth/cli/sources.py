"""Images on disk to push: an OCI image layout (``oci:DIR[:TAG]``) or a ``docker save`` tarball
(``docker-archive:FILE.tar[:TAG]``).

A docker-archive image is pushed as a Docker schema 2 manifest whose layers are the tarball's layer
files as they are (uncompressed layers get ``...rootfs.diff.tar``), so each layer digest equals
the config's ``diff_id`` and nothing is recompressed.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

__all__ = ["Blob", "Image", "LocalRef", "open_source", "split_local"]

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_REF_NAME = "org.opencontainers.image.ref.name"
_PIECE = 1024 * 1024
Opener = Callable[[], AbstractContextManager[IO[bytes]]]


class SourceError(ValueError):
    """The image on disk is missing, malformed or ambiguous."""


@dataclass(frozen=True, slots=True)
class LocalRef:
    transport: str
    path: Path
    tag: str | None


def split_local(text: str) -> LocalRef | None:
    """``oci:DIR[:TAG]`` or ``docker-archive:FILE[:REFERENCE]``; None for a registry reference.

    The path is the longest prefix that exists (so a tag may hold a colon, ``FILE:name:tag``);
    for a path not there yet, whatever follows the last colon is the tag.
    """
    for transport in ("oci", "docker-archive"):
        if text.startswith(transport + ":"):
            rest = text[len(transport) + 1 :]
            return LocalRef(transport, *_path_and_tag(rest))
    return None


def _path_and_tag(rest: str) -> tuple[Path, str | None]:
    if Path(rest).exists():
        return Path(rest), None
    for index, char in enumerate(rest):
        if char == ":" and index and Path(rest[:index]).exists():
            return Path(rest[:index]), rest[index + 1 :] or None
    path, colon, tag = rest.rpartition(":")
    if colon and path and "/" not in tag:
        return Path(path), tag
    return Path(rest), None


@dataclass(frozen=True, slots=True)
class Blob:
    media_type: str
    digest: str
    size: int
    open: Opener = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Image:
    """A manifest to push: its bytes, the blobs it needs, and (for an index) its children."""

    media_type: str
    manifest: bytes
    blobs: tuple[Blob, ...] = ()
    children: tuple[Image, ...] = ()

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()


def _hash(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while piece := handle.read(_PIECE):
        digest.update(piece)
    return "sha256:" + digest.hexdigest()


# -- OCI image layout --------------------------------------------------------------------------


def _layout_blob(root: Path, descriptor: dict[str, Any]) -> Path:
    algorithm, _, encoded = str(descriptor["digest"]).partition(":")
    path = root / "blobs" / algorithm / encoded
    if not path.is_file():
        raise SourceError(f"{root}: blob {descriptor['digest']} is missing")
    return path


def _file_opener(path: Path) -> Opener:
    return lambda: path.open("rb")


def _layout_image(root: Path, descriptor: dict[str, Any]) -> Image:
    body = _layout_blob(root, descriptor).read_bytes()
    document = json.loads(body)
    media_type = str(document.get("mediaType") or descriptor.get("mediaType", ""))
    if media_type in INDEX_TYPES or "manifests" in document:
        children = tuple(_layout_image(root, child) for child in document["manifests"])
        return Image(media_type, body, (), children)
    needed = [document["config"], *document.get("layers", [])]
    blobs = tuple(
        Blob(d["mediaType"], d["digest"], int(d["size"]), _file_opener(_layout_blob(root, d)))
        for d in needed
    )
    return Image(media_type, body, blobs)


def _oci_layout(root: Path, tag: str | None) -> Image:
    index_path = root / "index.json"
    if not index_path.is_file():
        raise SourceError(f"{root} is not an OCI image layout (no index.json)")
    manifests = json.loads(index_path.read_text()).get("manifests", [])
    if tag is not None:
        manifests = [m for m in manifests if m.get("annotations", {}).get(_REF_NAME) == tag]
    if len(manifests) != 1:
        what = f"tag {tag!r}" if tag else "one image (name a tag: oci:DIR:TAG)"
        raise SourceError(f"{root}: expected {what}, found {len(manifests)} manifests")
    return _layout_image(root, manifests[0])


# -- docker save -------------------------------------------------------------------------------


def _member(archive: tarfile.TarFile, name: str) -> tarfile.TarInfo:
    member = archive.getmember(name)
    for _ in range(8):
        if not member.issym():
            return member
        target = PurePosixPath(name).parent / member.linkname
        name = str(target)
        member = archive.getmember(name)
    return member


def _read_member(archive: tarfile.TarFile, name: str) -> bytes:
    handle = archive.extractfile(_member(archive, name))
    if handle is None:
        raise SourceError(f"{name} is not a file in the archive")
    return handle.read()


def _pick(entries: list[dict[str, Any]], tag: str | None, path: Path) -> dict[str, Any]:
    if tag is not None:
        found = [
            e for e in entries for t in e.get("RepoTags") or [] if t == tag or t.endswith(":" + tag)
        ]
        if not found and tag.isdigit() and int(tag) < len(entries):
            found = [entries[int(tag)]]
    else:
        found = entries
    if len(found) != 1:
        what = f"tag {tag!r}" if tag else "one image (name one: docker-archive:FILE:TAG)"
        raise SourceError(f"{path}: expected {what}, found {len(found)}")
    return found[0]


def _archive_opener(path: Path, name: str) -> Opener:
    """Opens one layer of the archive (a fresh tarfile handle each time: pushes may retry)."""

    @contextmanager
    def opened() -> Iterator[IO[bytes]]:
        with tarfile.open(path, "r:*") as archive:
            handle = archive.extractfile(_member(archive, name))
            if handle is None:
                raise SourceError(f"{name} is not a file in {path}")
            yield handle

    return opened


def _layer_type(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return DOCKER_LAYER_GZIP
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return OCI_LAYER_ZSTD
    return DOCKER_LAYER


def _layer(path: Path, archive: tarfile.TarFile, name: str, diff_id: str | None) -> Blob:
    member = _member(archive, name)
    handle = archive.extractfile(member)
    if handle is None:
        raise SourceError(f"{name} is not a file in {path}")
    media_type = _layer_type(handle.read(4))
    parts = PurePosixPath(name).parts
    if len(parts) == 3 and parts[0] == "blobs":
        digest = f"{parts[1]}:{parts[2]}"
    elif media_type == DOCKER_LAYER and diff_id:
        digest = diff_id
    else:
        handle.seek(0)
        digest = _hash(handle)
    return Blob(media_type, digest, member.size, _archive_opener(path, name))


def _docker_archive(path: Path, tag: str | None) -> Image:
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    with tarfile.open(path, "r:*") as archive:
        entry = _pick(json.loads(_read_member(archive, "manifest.json")), tag, path)
        config = _read_member(archive, entry["Config"])
        diff_ids = json.loads(config).get("rootfs", {}).get("diff_ids", [])
        layers = [
            _layer(path, archive, name, diff_ids[i] if i < len(diff_ids) else None)
            for i, name in enumerate(entry["Layers"])
        ]
    config_blob = Blob(
        DOCKER_CONFIG,
        "sha256:" + hashlib.sha256(config).hexdigest(),
        len(config),
        lambda: nullcontext(io.BytesIO(config)),
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": _descriptor(config_blob),
        "layers": [_descriptor(layer) for layer in layers],
    }
    body = json.dumps(manifest, indent=3).encode()
    return Image(DOCKER_MANIFEST, body, (config_blob, *layers))


def _descriptor(blob: Blob) -> dict[str, Any]:
    return {"mediaType": blob.media_type, "size": blob.size, "digest": blob.digest}


def open_source(ref: LocalRef) -> Image:
    """The image ``ref`` names (SourceError when it cannot be read)."""
    try:
        if ref.transport == "oci":
            return _oci_layout(ref.path, ref.tag)
        return _docker_archive(ref.path, ref.tag)
    except (OSError, KeyError, ValueError, tarfile.TarError) as error:
        if isinstance(error, SourceError):
            raise
        raise SourceError(f"{ref.path}: cannot read the image: {error}") from None
