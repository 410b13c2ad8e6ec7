"""The one key scheme for blob bytes, shared by every driver (OCI image-layout shaped)."""

from __future__ import annotations

from berth.errors import DigestInvalidError
from berth.types import Digest

__all__ = ["blob_key", "digest_from_key", "upload_key"]


def blob_key(digest: Digest) -> str:
    """``blobs/sha256/ab/abcdef...``: fanned out by the first two hex characters."""
    return f"blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}"


def upload_key(upload_id: str) -> str:
    return f"uploads/{upload_id}/data"


def digest_from_key(key: str) -> Digest | None:
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "blobs" or parts[2] != parts[3][:2]:
        return None
    try:
        return Digest.parse(f"{parts[1]}:{parts[3]}")
    except DigestInvalidError:
        return None
