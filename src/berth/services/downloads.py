"""Short-lived download URLs for layers, as ECR's ``GetDownloadUrlForLayer`` hands out.

A blob store with its own presigned URLs (S3) gives those; otherwise the URL points back at
Berth with a token naming the repository, the digest and an expiry, signed with an HMAC key every
node shares (kept in the metadata store's settings), so it downloads without credentials.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from berth.errors import DeniedError
from berth.meta.base import MetaStore

__all__ = ["DOWNLOAD_TTL_SECONDS", "DownloadGrant", "DownloadService"]

DOWNLOAD_TTL_SECONDS = 3600
_KEY_SETTING = "download_url_key"


@dataclass(frozen=True, slots=True)
class DownloadGrant:
    repository: str
    digest: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refused() -> DeniedError:
    return DeniedError("the download URL is invalid or has expired; ask for a new one")


class DownloadService:
    def __init__(self, meta: MetaStore, clock: Callable[[], datetime]) -> None:
        self.meta = meta
        self.clock = clock
        self._key: bytes | None = None

    async def sign(self, repository: str, digest: str, ttl: int = DOWNLOAD_TTL_SECONDS) -> str:
        """A token granting a download of ``digest`` through ``repository`` for ``ttl`` seconds."""
        expires = int(self.clock().timestamp()) + ttl
        claims = {"r": repository, "d": digest, "e": expires}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{await self._mac(body)}"

    async def verify(self, token: str) -> DownloadGrant:
        body, _, mac = token.partition(".")
        if not mac or not hmac.compare_digest(await self._mac(body), mac):
            raise _refused()
        try:
            claims = json.loads(_unb64(body))
            grant = DownloadGrant(str(claims["r"]), str(claims["d"]), float(claims["e"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _refused() from None
        if self.clock().timestamp() >= grant.expires_at:
            raise _refused()
        return grant

    async def _mac(self, body: str) -> str:
        key = await self._signing_key()
        return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())

    async def _signing_key(self) -> bytes:
        if self._key is None:
            fresh = base64.b64encode(secrets.token_bytes(32)).decode()
            async with self.meta.transaction() as tx:
                stored = await tx.settings.put_if_absent(_KEY_SETTING, fresh)
            self._key = base64.b64decode(stored)
        return self._key
