"""Registry login tokens: signed by the server, verified without a database lookup.

A token names its principal, the access key that minted it and its expiry. Clients send it as
HTTP Basic ``AWS:<token>``, exactly as ECR's ``GetAuthorizationToken`` gives it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from berth.errors import ExpiredTokenError, UnauthorizedError
from berth.types import Principal

__all__ = ["IssuedToken", "TokenSigner", "basic_credentials"]

_PREFIX = "b1"
_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: float

    @property
    def authorization_token(self) -> str:
        """What ECR hands out: ``base64("AWS:" + token)``."""
        return base64.b64encode(f"AWS:{self.token}".encode()).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _claims(principal: Principal, issued: float, expires: float) -> dict[str, object]:
    return {**principal.claims(), "iat": int(issued), "exp": int(expires)}


class TokenSigner:
    """Issues and verifies tokens with one HMAC key shared by every node (kept in the database)."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._clock = clock
        self._verified: dict[str, tuple[Principal, float]] = {}

    def issue(self, principal: Principal, ttl_seconds: int) -> IssuedToken:
        now = self._clock()
        expires = now + ttl_seconds
        if principal.session_expires is not None:
            expires = min(expires, principal.session_expires)
        payload = _b64(json.dumps(_claims(principal, now, expires), separators=(",", ":")).encode())
        body = f"{_PREFIX}.{payload}"
        return IssuedToken(f"{body}.{self._mac(body)}", float(int(expires)))

    def verify(self, token: str) -> Principal:
        """The token's principal; UnauthorizedError if forged or malformed, ExpiredTokenError late."""
        cached = self._verified.get(token)
        if cached is None:
            cached = self._verify_uncached(token)
            if len(self._verified) >= _CACHE_LIMIT:
                self._verified.clear()
            self._verified[token] = cached
        principal, expires = cached
        if self._clock() >= expires:
            raise ExpiredTokenError(
                "Your authorization token has expired. Reauthenticate and try again."
            )
        return principal

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def _verify_uncached(self, token: str) -> tuple[Principal, float]:
        invalid = UnauthorizedError("Your authorization token is invalid.")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX:
            raise invalid
        body = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._mac(body), parts[2]):
            raise invalid
        try:
            claims = json.loads(_unb64(parts[1]))
            return Principal.from_claims(claims), float(claims["exp"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise invalid from None


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic ...`` value, or None if not Basic."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        raise UnauthorizedError("malformed Basic credentials") from None
    if not sep:
        raise UnauthorizedError("malformed Basic credentials")
    return user, password
