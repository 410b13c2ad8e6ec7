"""Writing an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/...``).

Blobs are written to a temporary file beside their final name, their digest verified as they
stream, then renamed into place: a layout never holds a partial or wrong blob.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["DigestMismatchError", "OciLayout"]

_REF_NAME = "org.opencontainers.image.ref.name"
_INDEX = "application/vnd.oci.image.index.v1+json"


class DigestMismatchError(ValueError):
    pass


class _Verifying:
    """A file sink that hashes what it is given."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.handle.write(data)


class OciLayout:
    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        marker = self.root / "oci-layout"
        if not marker.exists():
            marker.write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))

    def blob_path(self, digest: str) -> Path:
        algorithm, _, encoded = digest.partition(":")
        if algorithm != "sha256" or len(encoded) != 64 or not encoded.isalnum():
            raise DigestMismatchError(f"unsupported digest {digest!r}")
        return self.root / "blobs" / algorithm / encoded

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        path = self.blob_path(digest)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def write_blob(self, digest: str, fill: Callable[[Any], None]) -> None:
        """``fill(sink)`` writes the blob's bytes to ``sink``; kept only if they match ``digest``."""
        path = self.blob_path(digest)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            with temporary.open("wb") as handle:
                sink = _Verifying(handle)
                fill(sink)
                handle.flush()
                os.fsync(handle.fileno())
            actual = "sha256:" + sink.hash.hexdigest()
            if actual != digest:
                raise DigestMismatchError(f"expected {digest}, received {actual}")
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)

    def write_bytes(self, digest: str, data: bytes) -> None:
        self.write_blob(digest, lambda sink: sink.write(data))

    def add_reference(self, descriptor: dict[str, Any], tag: str | None) -> None:
        """Record the image in index.json, replacing an entry with the same tag."""
        path = self.root / "index.json"
        index: dict[str, Any] = {"schemaVersion": 2, "mediaType": _INDEX, "manifests": []}
        if path.exists():
            index = json.loads(path.read_text())
        entry = dict(descriptor)
        manifests = list(index.get("manifests", []))
        if tag is not None:
            entry["annotations"] = {_REF_NAME: tag}
            manifests = [m for m in manifests if m.get("annotations", {}).get(_REF_NAME) != tag]
        else:
            manifests = [m for m in manifests if m.get("digest") != entry["digest"]]
        index["manifests"] = [*manifests, entry]
        temporary = path.with_name(".index.json.partial")
        temporary.write_text(json.dumps(index, indent=2))
        temporary.replace(path)
