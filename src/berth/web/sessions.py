"""Console sessions: a signed cookie naming the principal, and the CSRF tokens derived from it.

A cookie is ``base64url(JSON) "." base64url(HMAC-SHA256(key, "session|" + JSON))``. The key lives in
the database, so every node reads every node's cookies. Nothing in the cookie is secret; it is
only unforgeable. The CSRF token of a session is an HMAC of the session's random nonce, so it
needs no storage and changes with every sign-in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from berth.types import Principal, PrincipalKind

__all__ = [
    "DEVICE_COOKIE",
    "DEVICE_SECONDS",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "Session",
    "SessionSigner",
]

SESSION_COOKIE = "berth_session"
LOGIN_COOKIE = "berth_login"
DEVICE_COOKIE = "berth_device"
DEVICE_SECONDS = 30 * 24 * 3600
SESSION_SECONDS = 12 * 3600
LOGIN_SECONDS = 3600
MAX_COOKIE = 4096


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    via: str
    """``key`` (signed in with an access key pair) or ``password`` (an IAM user's password)."""
    nonce: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _principal_json(principal: Principal) -> dict[str, str]:
    return {
        "kind": principal.kind.value,
        "account": principal.account,
        "arn": principal.arn,
        "user_id": principal.user_id,
        "name": principal.name,
        "session": principal.session,
        "access_key_id": principal.access_key_id,
    }


def _principal(value: Any) -> Principal:
    fields = {key: value[key] for key in _principal_json(Principal.root("0"))}
    if not all(isinstance(item, str) for item in fields.values()):
        raise ValueError("a principal's fields are strings")
    kind = PrincipalKind(fields.pop("kind"))
    return Principal(kind=kind, **fields)


class SessionSigner:
    def __init__(
        self, key: bytes, ttl: int = SESSION_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self.ttl = ttl
        self._clock = clock

    def _mac(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}|{text}".encode(), hashlib.sha256).digest())

    def _sign(self, purpose: str, value: dict[str, Any]) -> str:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
        return f"{_b64(text.encode())}.{self._mac(purpose, text)}"

    def _open(self, purpose: str, cookie: str | None) -> dict[str, Any] | None:
        if not cookie or len(cookie) > MAX_COOKIE or cookie.count(".") != 1:
            return None
        body, mac = cookie.split(".")
        try:
            text = _unb64(body).decode()
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(mac, self._mac(purpose, text)):
            return None
        value = json.loads(text)
        if not isinstance(value, dict):
            return None
        expires = value.get("exp")
        if not isinstance(expires, int) or expires <= self._clock():
            return None
        return value

    def issue(self, principal: Principal, via: str) -> str:
        expires = int(self._clock()) + self.ttl
        value = {"p": _principal_json(principal), "via": via, "n": secrets.token_urlsafe(18)}
        return self._sign("session", {**value, "exp": expires})

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None if it is missing, forged or expired."""
        value = self._open("session", cookie)
        if value is None:
            return None
        try:
            principal = _principal(value["p"])
            via, nonce = value["via"], value["n"]
        except (KeyError, TypeError, ValueError):
            return None
        if via not in ("key", "password") or not isinstance(nonce, str):
            return None
        return Session(principal, via, nonce, value["exp"])

    def csrf_token(self, session: Session) -> str:
        return self._mac("csrf", session.nonce)

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))

    def login_cookie(self) -> tuple[str, str]:
        """A cookie for the sign-in form and the token its hidden field must echo."""
        nonce = secrets.token_urlsafe(18)
        expires = int(self._clock()) + LOGIN_SECONDS
        return self._sign("login", {"n": nonce, "exp": expires}), self._mac("login-form", nonce)

    def check_login(self, cookie: str | None, token: str | None) -> bool:
        value = self._open("login", cookie)
        if value is None or not isinstance(value.get("n"), str) or not token:
            return False
        return hmac.compare_digest(str(token), self._mac("login-form", value["n"]))

    def device_cookie(self, identity: str) -> str:
        """A cookie saying this browser signed in as ``identity`` (named only by an HMAC)."""
        expires = int(self._clock()) + DEVICE_SECONDS
        return self._sign("device", {"i": self._mac("device-identity", identity), "exp": expires})

    def known_device(self, cookie: str | None, identity: str) -> bool:
        """True if ``cookie`` is this server's device cookie for ``identity``, still valid."""
        value = self._open("device", cookie)
        if value is None or not isinstance(value.get("i"), str):
            return False
        return hmac.compare_digest(value["i"], self._mac("device-identity", identity))
