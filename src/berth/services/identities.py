"""IAM and STS use-cases, and the policies that apply to a principal (for authorization).

``IdentityService`` gathers the admin use-cases (``principals``, ``credentials``, ``policies``,
``sts``, ``simulator``) and answers ``policies_for``: everything the engine needs about a caller,
cached per principal for a short time and dropped at once when this process writes IAM data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from berth.iam import NamedPolicy, Policy, PolicyKind, parse_policy
from berth.meta.base import MetaStore
from berth.meta.cache import TtlCache
from berth.meta.identities import IdentityStore, OwnerKind, Role, StsSession, User
from berth.secrets import SecretBox
from berth.services.iam_common import IamContext
from berth.services.iam_keys import ACTIVE, KEYS_PER_USER, CredentialAdmin
from berth.services.iam_policies import (
    INLINE_LIMITS,
    MANAGED_PER_OWNER,
    MAX_MANAGED_POLICY,
    MAX_VERSIONS,
    PolicyAdmin,
)
from berth.services.iam_principals import MAX_TRUST_POLICY, PrincipalAdmin
from berth.services.iam_simulation import Simulator
from berth.services.sts import StsService
from berth.types import Principal, PrincipalKind

__all__ = ["CACHE_TTL", "QUOTAS", "RECORD_EVERY", "IdentityService", "PrincipalPolicies"]

CACHE_TTL = 2.0
QUOTAS = {
    "UsersQuota": 5000,
    "GroupsQuota": 300,
    "RolesQuota": 1000,
    "PoliciesQuota": 1500,
    "AccessKeysPerUserQuota": KEYS_PER_USER,
    "GroupsPerUserQuota": 10,
    "AttachedPoliciesPerUserQuota": MANAGED_PER_OWNER,
    "AttachedPoliciesPerGroupQuota": MANAGED_PER_OWNER,
    "AttachedPoliciesPerRoleQuota": MANAGED_PER_OWNER,
    "PolicySizeQuota": MAX_MANAGED_POLICY,
    "UserPolicySizeQuota": INLINE_LIMITS[OwnerKind.USER],
    "GroupPolicySizeQuota": INLINE_LIMITS[OwnerKind.GROUP],
    "RolePolicySizeQuota": INLINE_LIMITS[OwnerKind.ROLE],
    "AssumeRolePolicySizeQuota": MAX_TRUST_POLICY,
    "VersionsPerPolicyQuota": MAX_VERSIONS,
    "AccountMFAEnabled": 0,
    "MFADevices": 0,
    "MFADevicesInUse": 0,
}
RECORD_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class PrincipalPolicies:
    """What the policy engine needs to know about one caller."""

    identity_policies: tuple[NamedPolicy, ...] = ()
    permissions_boundary: Policy | None = None
    session_policies: tuple[Policy, ...] = ()
    role_arn: str | None = None
    principal_tags: Mapping[str, str] = field(default_factory=dict)
    active: bool = True


_NONE = PrincipalPolicies()
_GONE = PrincipalPolicies(active=False)
_ALLOW_NOTHING = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"berth:Nothing",'
    '"Resource":"arn:aws:iam::000000000000:nothing"}]}',
    PolicyKind.IDENTITY,
)
"""The boundary of a principal whose boundary policy is gone: it allows nothing (fail closed)."""


class IdentityService:
    def __init__(
        self,
        meta: MetaStore,
        clock: Callable[[], datetime],
        *,
        account: str,
        box: SecretBox,
        root_access_key_id: str = "",
        ttl: float = CACHE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._iam = IamContext(meta, clock, account, box)
        self._root_key = root_access_key_id
        self._policies: TtlCache[PrincipalPolicies] = TtlCache(ttl, monotonic)
        self._keys: TtlCache[bool] = TtlCache(ttl, monotonic)
        self._used: dict[str, datetime] = {}
        self._iam.caches.extend([self._policies, self._keys])  # type: ignore[list-item]
        self.principals = PrincipalAdmin(self._iam)
        self.credentials = CredentialAdmin(self._iam)
        self.policies = PolicyAdmin(self._iam)
        self.sts = StsService(self._iam)
        self.simulator = Simulator(self._iam)

    @property
    def account(self) -> str:
        return self._iam.account

    def invalidate(self) -> None:
        """Forget every cached answer (called on this process's IAM writes)."""
        self._iam.changed()

    async def account_summary(self) -> dict[str, int]:
        """GetAccountSummary's counts and quotas."""
        async with self._iam.meta.read() as tx:
            ids = tx.identities
            counts = {
                "Users": await ids.users.count(),
                "Groups": await ids.groups.count(),
                "Roles": await ids.roles.count(),
                "Policies": await ids.policies.count(),
                "AccessKeysPresent": await ids.keys.count(),
            }
        return {**counts, **QUOTAS}

    async def record_key_use(self, access_key_id: str, service: str, region: str) -> None:
        """Note a verified request's key use (IAM users' keys), at most once a minute per key."""
        if not access_key_id.startswith("AKIA"):
            return
        now = self._iam.clock()
        last = self._used.get(access_key_id)
        if last is not None and now - last < RECORD_EVERY:
            return
        if len(self._used) > 10_000:
            self._used.clear()
        self._used[access_key_id] = now
        async with self._iam.meta.transaction() as tx:
            await tx.identities.keys.record_use(access_key_id, now, service, region)

    async def policies_for(self, principal: Principal) -> PrincipalPolicies:
        if principal.is_root or principal.is_anonymous:
            return _NONE
        key = (principal.kind, principal.arn, principal.user_id, principal.access_key_id)
        return await self._policies.get_or_load(key, lambda: self._read_policies(principal))

    async def _read_policies(self, principal: Principal) -> PrincipalPolicies:
        async with self._iam.meta.read() as tx:
            return await self._resolve(tx.identities, principal)

    async def access_key_active(self, access_key_id: str) -> bool:
        if access_key_id == self._root_key:
            return True
        return await self._keys.get_or_load(access_key_id, lambda: self._read_key(access_key_id))

    async def _read_key(self, access_key_id: str) -> bool:
        async with self._iam.meta.read() as tx:
            return await self._key_active(tx.identities, access_key_id)

    async def _key_active(self, ids: IdentityStore, access_key_id: str) -> bool:
        if access_key_id.startswith("ASIA"):
            session = await ids.sessions.get(access_key_id)
            return session is not None and await self._session_live(ids, session)
        key = await ids.keys.get(access_key_id)
        return key is not None and key.status == ACTIVE

    async def _session_live(self, ids: IdentityStore, session: StsSession) -> bool:
        if session.expires_at <= self._iam.clock():
            return False
        if session.role_id is not None:
            return await ids.roles.get_by_id(session.role_id) is not None
        if session.user_id is not None:
            return await ids.users.get_by_id(session.user_id) is not None
        return True

    async def _resolve(self, ids: IdentityStore, principal: Principal) -> PrincipalPolicies:
        session = None
        if principal.access_key_id.startswith("ASIA"):
            session = await ids.sessions.get(principal.access_key_id)
            if session is None or not await self._session_live(ids, session):
                return _GONE
        if principal.kind is PrincipalKind.USER:
            return await self._user_policies(ids, principal)
        if principal.kind is PrincipalKind.ASSUMED_ROLE and session is not None:
            return await self._role_policies(ids, session)
        return _GONE if principal.kind is PrincipalKind.ASSUMED_ROLE else _NONE

    async def _user_policies(self, ids: IdentityStore, principal: Principal) -> PrincipalPolicies:
        user = await ids.users.get_by_id(principal.user_id)
        if user is None or not await self._key_belongs(ids, principal, user):
            return _GONE
        groups = [group.id for group in await ids.groups.groups_of(user.id)]
        named = await self._owned(ids, OwnerKind.USER, [user.id])
        named += await self._owned(ids, OwnerKind.GROUP, groups)
        return PrincipalPolicies(
            identity_policies=tuple(named),
            permissions_boundary=await self._boundary(ids, user.permissions_boundary),
            principal_tags=dict(user.tags),
        )

    async def _key_belongs(self, ids: IdentityStore, principal: Principal, user: User) -> bool:
        key_id = principal.access_key_id
        if not key_id.startswith("AKIA"):
            return True
        key = await ids.keys.get(key_id)
        return key is not None and key.user_id == user.id and key.status == ACTIVE

    async def _role_policies(self, ids: IdentityStore, session: StsSession) -> PrincipalPolicies:
        role: Role | None = None
        if session.role_id is not None:
            role = await ids.roles.get_by_id(session.role_id)
        if role is None:
            return _GONE
        sessions = []
        if session.policy is not None:
            sessions.append(self._iam.policies.stored(session.policy, PolicyKind.IDENTITY))
        for arn in session.policy_arns:
            managed = await self._managed(ids, arn)
            if managed is not None:
                sessions.append(managed)
        return PrincipalPolicies(
            identity_policies=tuple(await self._owned(ids, OwnerKind.ROLE, [role.id])),
            permissions_boundary=await self._boundary(ids, role.permissions_boundary),
            session_policies=tuple(sessions),
            role_arn=role.arn,
            principal_tags=dict(role.tags),
        )

    async def _owned(
        self, ids: IdentityStore, kind: OwnerKind, owners: list[str]
    ) -> list[NamedPolicy]:
        stored = self._iam.policies.stored
        named = [
            NamedPolicy(inline.name, stored(inline.document, PolicyKind.IDENTITY))
            for inline in await ids.inline.list(kind, owners)
        ]
        for _, attached in await ids.policies.attached(kind, owners):
            policy = stored(attached.document, PolicyKind.IDENTITY)
            named.append(NamedPolicy(attached.policy.arn, policy))
        return named

    async def _boundary(self, ids: IdentityStore, arn: str | None) -> Policy | None:
        if arn is None:
            return None
        found = await self._managed(ids, arn)
        return found if found is not None else _ALLOW_NOTHING

    async def _managed(self, ids: IdentityStore, arn: str) -> Policy | None:
        policy = await ids.policies.get(arn)
        if policy is None:
            return None
        version = await ids.policies.get_version(policy.id, policy.default_version)
        if version is None:
            return None
        return self._iam.policies.stored(version.document, PolicyKind.IDENTITY)
