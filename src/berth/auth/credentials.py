"""Who an access key belongs to: the key material SigV4 needs and the principal it stands for.

Stores are looked up in order; the root key comes from settings, IAM users' keys and STS
sessions from the database (secrets decrypted only here, only when a request names the key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from berth.auth.sigv4 import KeyMaterial, SignedRequest, VerifiedCaller, parse_authorization, verify
from berth.types import Principal

__all__ = [
    "ChainedCredentials",
    "Credential",
    "CredentialStore",
    "StaticCredentials",
    "authenticate",
]


@dataclass(frozen=True, slots=True)
class Credential:
    key: KeyMaterial
    principal: Principal


class CredentialStore(Protocol):
    async def find(self, access_key_id: str) -> Credential | None:
        """The credential for an access key id, or None if nobody has that key."""


class StaticCredentials:
    """Keys known at start-up (the account root's)."""

    def __init__(self, credentials: dict[str, Credential]) -> None:
        self._credentials = dict(credentials)

    async def find(self, access_key_id: str) -> Credential | None:
        return self._credentials.get(access_key_id)


class ChainedCredentials:
    def __init__(self, stores: Sequence[CredentialStore]) -> None:
        self._stores = tuple(stores)

    async def find(self, access_key_id: str) -> Credential | None:
        for store in self._stores:
            found = await store.find(access_key_id)
            if found is not None:
                return found
        return None


async def authenticate(
    request: SignedRequest,
    credentials: CredentialStore,
    *,
    now: datetime,
    expected_service: str | None = None,
    region: str | None = None,
    query_api: bool = False,
) -> tuple[Principal, VerifiedCaller]:
    """Verify a SigV4-signed request; return its principal or raise the AWS error."""
    claims = parse_authorization(request)
    found = await credentials.find(claims.access_key_id)
    caller = verify(
        request,
        lambda _: None if found is None else found.key,
        now=now,
        expected_service=expected_service,
        region=region,
        query_api=query_api,
    )
    assert found is not None  # verify refuses unknown keys
    return found.principal, caller
