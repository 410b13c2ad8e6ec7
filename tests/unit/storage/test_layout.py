from __future__ import annotations

import pytest

from berth.storage.layout import blob_key, digest_from_key, upload_key
from berth.types import Digest

SHA256 = Digest.of(b"layer")
SHA512 = Digest.of(b"layer", "sha512")


def test_blob_key_fans_out_by_first_two_hex_characters() -> None:
    assert blob_key(SHA256) == f"blobs/sha256/{SHA256.hex[:2]}/{SHA256.hex}"


@pytest.mark.parametrize("digest", [SHA256, SHA512, Digest.of(b"")])
def test_blob_key_round_trips(digest: Digest) -> None:
    assert digest_from_key(blob_key(digest)) == digest


def test_upload_key() -> None:
    assert upload_key("abc-123_X") == "uploads/abc-123_X/data"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "blobs",
        f"blobs/sha256/{SHA256.hex}",
        f"blobs/sha256/zz/{SHA256.hex}",
        f"blobs/sha256/{SHA256.hex[:2]}/{SHA256.hex}/extra",
        f"uploads/sha256/{SHA256.hex[:2]}/{SHA256.hex}",
        f"blobs/md5/{SHA256.hex[:2]}/{SHA256.hex}",
        f"blobs/sha256/{SHA256.hex[:2]}/{SHA256.hex[:-1]}",
        f"blobs/sha256/{SHA256.hex[:2].upper()}/{SHA256.hex.upper()}",
        f"blobs/sha512/{SHA256.hex[:2]}/{SHA256.hex}",
        f"blobs/sha256/{SHA256.hex[:2]}/.check-{SHA256.hex}",
    ],
)
def test_digest_from_key_rejects_other_keys(key: str) -> None:
    assert digest_from_key(key) is None
