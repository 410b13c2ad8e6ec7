"""IAM users' access keys and console passwords (login profiles)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from dataclasses import dataclass

from berth.errors import (
    EntityAlreadyExistsError,
    NoSuchEntityError,
    PasswordPolicyViolationError,
    QuotaExceededError,
)
from berth.meta.identities import AccessKey, IdentityStore, LoginProfile, OwnerKind, User
from berth.secrets import hash_password, verify_password
from berth.services.iam_common import (
    DEFAULT_MAX_ITEMS,
    IamContext,
    Page,
    decode_marker,
    new_access_key_id,
    new_secret,
    no_such_owner,
)

__all__ = [
    "ACTIVE",
    "INACTIVE",
    "KEYS_PER_USER",
    "CredentialAdmin",
    "KeyUse",
    "NewAccessKey",
    "check_password_policy",
]

ACTIVE, INACTIVE = "Active", "Inactive"
KEYS_PER_USER = 2
MIN_PASSWORD = 8
_CLASSES = (r"[A-Z]", r"[a-z]", r"[0-9]", r"[^A-Za-z0-9]")


@dataclass(frozen=True, slots=True)
class NewAccessKey:
    """A key as CreateAccessKey returns it: the only time the secret is shown."""

    key: AccessKey
    user_name: str
    secret_access_key: str


@dataclass(frozen=True, slots=True)
class KeyUse:
    user_name: str
    key: AccessKey | None


def check_password_policy(password: str) -> None:
    """Berth's account password policy: 8+ characters, three of the four character classes."""
    classes = sum(1 for pattern in _CLASSES if re.search(pattern, password))
    if len(password) < MIN_PASSWORD or classes < 3:
        raise PasswordPolicyViolationError(
            f"Password does not conform to the account password policy: at least {MIN_PASSWORD} "
            "characters, with three of: uppercase letters, lowercase letters, numbers, symbols."
        )


class CredentialAdmin:
    def __init__(self, iam: IamContext) -> None:
        self._iam = iam

    # -- access keys ---------------------------------------------------------------------------

    async def create_access_key(self, user_name: str) -> NewAccessKey:
        secret = new_secret()
        key_id = new_access_key_id()
        async with self._iam.meta.transaction() as tx:
            user = await _user(tx.identities, user_name)
            if len(await tx.identities.keys.list(user.id)) >= KEYS_PER_USER:
                raise QuotaExceededError(
                    f"Cannot exceed quota for AccessKeysPerUser: {KEYS_PER_USER}"
                )
            key = AccessKey(
                id=key_id,
                user_id=user.id,
                secret=self._iam.box.seal_text(secret, key_id),
                status=ACTIVE,
                created_at=self._iam.clock(),
            )
            await tx.identities.keys.create(key)
        return NewAccessKey(key, user.name, secret)

    async def list_access_keys(
        self, user_name: str, marker: str | None = None, max_items: int | None = None
    ) -> Page[AccessKey]:
        after = decode_marker(marker)
        async with self._iam.meta.read() as tx:
            user = await _user(tx.identities, user_name)
            keys = await tx.identities.keys.list(user.id)
        kept = [key for key in keys if after is None or key.id > after]
        limit = max_items or DEFAULT_MAX_ITEMS
        return Page(tuple(kept[:limit]), None)

    async def update_access_key(self, user_name: str, key_id: str, status: str) -> None:
        async with self._iam.meta.transaction() as tx:
            await self._owned_key(tx.identities, user_name, key_id)
            await tx.identities.keys.set_status(key_id, status)
        self._iam.changed()

    async def delete_access_key(self, user_name: str, key_id: str) -> None:
        async with self._iam.meta.transaction() as tx:
            await self._owned_key(tx.identities, user_name, key_id)
            await tx.identities.keys.delete(key_id)
        self._iam.changed()

    async def _owned_key(self, ids: IdentityStore, user_name: str, key_id: str) -> AccessKey:
        user = await _user(ids, user_name)
        key = await ids.keys.get(key_id)
        if key is None or key.user_id != user.id:
            raise NoSuchEntityError(f"The Access Key with id {key_id} cannot be found.")
        return key

    async def key_last_used(self, key_id: str) -> KeyUse:
        async with self._iam.meta.read() as tx:
            key = await tx.identities.keys.get(key_id)
            user = None if key is None else await tx.identities.users.get_by_id(key.user_id)
        if key is None or user is None:
            raise NoSuchEntityError(f"The Access Key with id {key_id} cannot be found.")
        return KeyUse(user.name, key)

    # -- login profiles ------------------------------------------------------------------------

    async def create_login_profile(
        self, user_name: str, password: str, reset_required: bool = False
    ) -> LoginProfile:
        check_password_policy(password)
        hashed = await asyncio.to_thread(hash_password, password)
        async with self._iam.meta.transaction() as tx:
            user = await _user(tx.identities, user_name)
            profile = LoginProfile(user.id, hashed, self._iam.clock(), reset_required)
            if not await tx.identities.logins.create(profile):
                raise EntityAlreadyExistsError(
                    f"Login Profile for user {user.name} already exists."
                )
        return profile

    async def get_login_profile(self, user_name: str) -> tuple[User, LoginProfile]:
        async with self._iam.meta.read() as tx:
            user = await _user(tx.identities, user_name)
            return user, await _profile(tx.identities, user)

    async def update_login_profile(
        self, user_name: str, password: str | None = None, reset_required: bool | None = None
    ) -> None:
        hashed = None
        if password is not None:
            check_password_policy(password)
            hashed = await asyncio.to_thread(hash_password, password)
        async with self._iam.meta.transaction() as tx:
            user = await _user(tx.identities, user_name)
            profile = await _profile(tx.identities, user)
            changed = dataclasses.replace(
                profile,
                password_hash=hashed or profile.password_hash,
                reset_required=profile.reset_required if reset_required is None else reset_required,
            )
            await tx.identities.logins.update(changed)

    async def delete_login_profile(self, user_name: str) -> None:
        async with self._iam.meta.transaction() as tx:
            user = await _user(tx.identities, user_name)
            if not await tx.identities.logins.delete(user.id):
                raise _no_profile(user.name)

    async def check_password(self, user_name: str, password: str) -> User | None:
        """The user if ``password`` is its console password (for console sign-in)."""
        async with self._iam.meta.read() as tx:
            user = await tx.identities.users.get(user_name)
            profile = None if user is None else await tx.identities.logins.get(user.id)
        if user is None or profile is None:
            return None
        matches = await asyncio.to_thread(verify_password, password, profile.password_hash)
        return user if matches else None


def _no_profile(user_name: str) -> NoSuchEntityError:
    return NoSuchEntityError(f"Login Profile for User {user_name} cannot be found.")


async def _user(ids: IdentityStore, name: str) -> User:
    found = await ids.users.get(name)
    if found is None:
        raise no_such_owner(OwnerKind.USER, name)
    return found


async def _profile(ids: IdentityStore, user: User) -> LoginProfile:
    found = await ids.logins.get(user.id)
    if found is None:
        raise _no_profile(user.name)
    return found
