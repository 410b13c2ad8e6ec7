"""Short-lived signed URLs: downloads of layers, as ECR's ``GetDownloadUrlForLayer`` hands out,
and the upload port's upload URLs.

A blob store with its own presigned URLs (S3) gives the downloads; otherwise the URL points back
at Berth with a token naming the repository, the digest and an expiry, signed with an HMAC key
every node shares (kept in the metadata store's settings), so it downloads without credentials.

An upload URL (``berth.api.upload_port``) names the repository, the upload, the caller and an
expiry, signed with the same key under a label of its own, so neither kind passes for the other.
It identifies the caller; it does not authorize: the upload port asks IAM on every request, as
the registry port does.
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
from berth.types import Principal

__all__ = [
    "DOWNLOAD_TTL_SECONDS",
    "UPLOAD_URL_TTL_SECONDS",
    "DownloadGrant",
    "DownloadService",
    "UploadGrant",
    "sign_download_token",
    "sign_upload_token",
    "verify_download_token",
    "verify_upload_token",
]

DOWNLOAD_TTL_SECONDS = 3600
UPLOAD_URL_TTL_SECONDS = 3600
"""How long an upload URL stays good; each answer on the upload port hands out a fresh one."""
_UPLOAD_LABEL = "berth-upload-url:"
_KEY_SETTING = "download_url_key"


@dataclass(frozen=True, slots=True)
class DownloadGrant:
    repository: str
    digest: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class UploadGrant:
    repository: str
    upload_id: str
    principal: Principal
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refused() -> DeniedError:
    return DeniedError("the download URL is invalid or has expired; ask for a new one")


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def sign_download_token(key: bytes, repository: str, digest: str, expires_at: int) -> str:
    """A token granting a download of ``digest`` through ``repository`` until ``expires_at``."""
    claims = {"r": repository, "d": digest, "e": expires_at}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{_mac(key, body)}"


def verify_download_token(key: bytes, token: str, now: float) -> DownloadGrant:
    """The grant ``token`` carries, if ``key`` signed it and it has not expired at ``now``.

    Pure, so the download port (``berth.api.download_port``) checks tokens without a database.
    """
    body, _, mac = token.partition(".")
    if not mac or not hmac.compare_digest(_mac(key, body), mac):
        raise _refused()
    try:
        claims = json.loads(_unb64(body))
        grant = DownloadGrant(str(claims["r"]), str(claims["d"]), float(claims["e"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _refused() from None
    if now >= grant.expires_at:
        raise _refused()
    return grant


def sign_upload_token(key: bytes, grant: UploadGrant) -> str:
    """A token naming ``grant``'s upload and caller until its expiry."""
    claims = {
        "r": grant.repository,
        "u": grant.upload_id,
        "p": grant.principal.claims(),
        "e": int(grant.expires_at),
    }
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{_mac(key, _UPLOAD_LABEL + body)}"


def verify_upload_token(key: bytes, token: str, now: float) -> UploadGrant:
    """The grant ``token`` carries, if ``key`` signed it as an upload URL and it has not expired."""
    body, _, mac = token.partition(".")
    refused = DeniedError(
        "the upload URL is invalid or has expired; ask the registry for a new one "
        "(GET /v2/<name>/blobs/uploads/<uuid>) or start the upload again"
    )
    if not mac or not hmac.compare_digest(_mac(key, _UPLOAD_LABEL + body), mac):
        raise refused
    try:
        claims = json.loads(_unb64(body))
        grant = UploadGrant(
            str(claims["r"]),
            str(claims["u"]),
            Principal.from_claims(claims["p"]),
            float(claims["e"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise refused from None
    if now >= grant.expires_at:
        raise refused
    return grant


class DownloadService:
    def __init__(self, meta: MetaStore, clock: Callable[[], datetime]) -> None:
        self.meta = meta
        self.clock = clock
        self._key: bytes | None = None

    async def sign(self, repository: str, digest: str, ttl: int = DOWNLOAD_TTL_SECONDS) -> str:
        """A token granting a download of ``digest`` through ``repository`` for ``ttl`` seconds."""
        expires = int(self.clock().timestamp()) + ttl
        return sign_download_token(await self.signing_key(), repository, digest, expires)

    async def sign_upload(
        self,
        repository: str,
        upload_id: str,
        principal: Principal,
        ttl: int = UPLOAD_URL_TTL_SECONDS,
    ) -> str:
        """A token for the upload port naming ``upload_id`` and its caller for ``ttl`` seconds,
        or until the caller's role session ends, whichever is sooner."""
        expires = int(self.clock().timestamp()) + ttl
        if principal.session_expires is not None:
            expires = min(expires, int(principal.session_expires))
        grant = UploadGrant(repository, upload_id, principal, expires)
        return sign_upload_token(await self.signing_key(), grant)

    async def verify(self, token: str) -> DownloadGrant:
        return verify_download_token(await self.signing_key(), token, self.clock().timestamp())

    async def signing_key(self) -> bytes:
        """The HMAC key every node shares, made on first use."""
        if self._key is None:
            fresh = base64.b64encode(secrets.token_bytes(32)).decode()
            async with self.meta.transaction() as tx:
                stored = await tx.settings.put_if_absent(_KEY_SETTING, fresh)
            self._key = base64.b64decode(stored)
        return self._key
