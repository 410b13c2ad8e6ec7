"""Secrets at rest: authenticated encryption with the server's master key, slow password hashes.

A sealed secret is ``version (1 byte) || nonce (12 bytes) || AES-256-GCM ciphertext and tag``;
the version byte is also authenticated, and ``purpose`` (what the secret is for, such as the
access key id it belongs to) is bound in as associated data, so a sealed value copied onto
another row does not open. Passwords are hashed with scrypt and a per-password salt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from berth.errors import ServerError

__all__ = [
    "KEY_BYTES",
    "MASTER_KEY_FILE",
    "MasterKeySettings",
    "SecretBox",
    "SecretError",
    "hash_password",
    "master_key",
    "parse_master_key",
    "session_token",
    "token_hash",
    "verify_password",
]

KEY_BYTES = 32
MASTER_KEY_FILE = "master.key"
_VERSION = b"\x01"
_NONCE_BYTES = 12
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_HASH_SCHEME = "scrypt"
_TOKEN_VERSION = b"\x01berth"


class SecretError(ServerError):
    """A sealed secret that does not open (another master key, or tampered with)."""


class MasterKeySettings(Protocol):
    """What ``master_key`` reads from the settings."""

    @property
    def master_key(self) -> str | None: ...

    @property
    def data_dir(self) -> Path: ...


class SecretBox:
    """Seals and opens secrets with one 32-byte key (AES-256-GCM, random 96-bit nonces)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the master key is {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, purpose: bytes = b"") -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _VERSION + purpose)

    def open(self, sealed: bytes, purpose: bytes = b"") -> bytes:
        if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != _VERSION:
            raise SecretError("a stored secret is not in a format this server knows")
        nonce = sealed[1 : 1 + _NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[1 + _NONCE_BYTES :], _VERSION + purpose)
        except InvalidTag:
            raise SecretError(
                "a stored secret does not open with this server's master key"
            ) from None

    def seal_text(self, plaintext: str, purpose: str = "") -> bytes:
        return self.seal(plaintext.encode(), purpose.encode())

    def open_text(self, sealed: bytes, purpose: str = "") -> str:
        return self.open(sealed, purpose.encode()).decode()


def parse_master_key(text: str) -> bytes:
    """The key from its base64 text; ValueError unless it is exactly 32 bytes."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the master key must be base64 (of 32 random bytes)") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"the master key must be base64 of {KEY_BYTES} bytes, not {len(key)}")
    return key


def master_key(settings: MasterKeySettings) -> bytes:
    """From ``BERTH_MASTER_KEY``, else ``DATA_DIR/master.key``, else generated there once (0600)."""
    if settings.master_key:
        return parse_master_key(settings.master_key)
    path = settings.data_dir / MASTER_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return parse_master_key(path.read_text())


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process won the race; its key is the key
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")


def session_token(secret_access_key: str, access_key_id: str) -> str:
    """The session token of temporary credentials, derived from their sealed secret.

    Only its hash is stored; whoever can open the secret can derive the token again.
    """
    key = secret_access_key.encode()
    parts = [
        hmac.new(key, f"berth-session-token/{i}/{access_key_id}".encode(), hashlib.sha256).digest()
        for i in range(3)
    ]
    return base64.b64encode(_TOKEN_VERSION + b"".join(parts)).decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return "$".join([_HASH_SCHEME, str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), *encoded])


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` is the one ``stored`` was made from (constant-time comparison)."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _HASH_SCHEME:
        return False
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, expected = (base64.b64decode(part) for part in parts[4:])
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * r * n, dklen=_HASH_BYTES
    )
