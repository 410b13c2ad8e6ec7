"""Access keys from the database: IAM users' keys (``AKIA...``) and STS sessions (``ASIA...``).

Secrets are opened with the master key only when a request names the key. This store only reads:
last use is recorded by ``IdentityService.record_key_use`` once a signature has checked out.
What a key resolves to is kept until a write to the tables it was read from (a key deactivated,
a user or role deleted) commits; other nodes' writes are seen within ``CROSS_NODE_TTL``.
"""

from __future__ import annotations

import hmac

from berth.auth.credentials import Credential
from berth.auth.sigv4 import KeyMaterial
from berth.meta.base import MetaStore
from berth.meta.cache import ReadCache
from berth.meta.identities import IdentityStore, StsSession
from berth.secrets import SecretBox, SecretError, session_token, token_hash
from berth.types import Principal, PrincipalKind

__all__ = ["DatabaseCredentials"]

_ACTIVE = "Active"
_USER_KEY_TABLES = ("iam_access_keys", "iam_users")
_SESSION_TABLES = ("iam_sessions", "iam_roles", "iam_users")


class DatabaseCredentials:
    """A ``CredentialStore`` over the metadata store."""

    def __init__(self, meta: MetaStore, box: SecretBox, account: str) -> None:
        self._meta = meta
        self._box = box
        self._account = account
        self._user_keys: ReadCache[Credential] = ReadCache(meta, _USER_KEY_TABLES)
        self._sessions: ReadCache[Credential] = ReadCache(meta, _SESSION_TABLES)

    async def find(self, access_key_id: str) -> Credential | None:
        if access_key_id.startswith("ASIA"):
            return await self._sessions.get(access_key_id, lambda: self._read(access_key_id))
        return await self._user_keys.get(access_key_id, lambda: self._read(access_key_id))

    async def _read(self, access_key_id: str) -> Credential | None:
        async with self._meta.read() as tx:
            if access_key_id.startswith("ASIA"):
                return await self._session(tx.identities, access_key_id)
            return await self._user_key(tx.identities, access_key_id)

    async def _user_key(self, ids: IdentityStore, access_key_id: str) -> Credential | None:
        key = await ids.keys.get(access_key_id)
        user = None if key is None else await ids.users.get_by_id(key.user_id)
        if key is None or user is None:
            return None
        principal = Principal(
            kind=PrincipalKind.USER,
            account=self._account,
            arn=user.arn,
            user_id=user.id,
            name=user.name,
            access_key_id=access_key_id,
        )
        secret = self._open(key.secret, access_key_id)
        if secret is None:
            return None
        return Credential(KeyMaterial(secret, active=key.status == _ACTIVE), principal)

    async def _session(self, ids: IdentityStore, access_key_id: str) -> Credential | None:
        session = await ids.sessions.get(access_key_id)
        if session is None:
            return None
        secret = self._open(session.secret, access_key_id)
        if secret is None:
            return None
        token = session_token(secret, access_key_id)
        if not hmac.compare_digest(token_hash(token), session.token_hash):
            return None
        principal = await self._session_principal(ids, session)
        if principal is None:
            return None
        material = KeyMaterial(secret, session_token=token, expires_at=session.expires_at)
        return Credential(material, principal)

    async def _session_principal(self, ids: IdentityStore, session: StsSession) -> Principal | None:
        expires = session.expires_at.timestamp()
        key_id = session.access_key_id
        if session.role_id is not None:
            role = await ids.roles.get_by_id(session.role_id)
            if role is None:
                return None
            name = session.session_name
            return Principal(
                kind=PrincipalKind.ASSUMED_ROLE,
                account=self._account,
                arn=f"arn:aws:sts::{self._account}:assumed-role/{role.name}/{name}",
                user_id=f"{role.id}:{name}",
                name=role.name,
                session=name,
                access_key_id=key_id,
                session_expires=expires,
            )
        if session.user_id is not None:
            user = await ids.users.get_by_id(session.user_id)
            if user is None:
                return None
            return Principal(
                PrincipalKind.USER, self._account, user.arn, user.id, user.name, "", key_id, expires
            )
        root = Principal.root(self._account, key_id)
        return Principal(
            root.kind, root.account, root.arn, root.user_id, root.name, "", key_id, expires
        )

    def _open(self, sealed: bytes, access_key_id: str) -> str | None:
        try:
            return self._box.open_text(sealed, access_key_id)
        except SecretError:
            return None  # sealed under another master key: the key cannot sign anything
