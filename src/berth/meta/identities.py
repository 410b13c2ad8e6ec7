"""The IAM and STS metadata protocol: users, groups, roles, policies, keys, logins, sessions.

``Transaction.identities`` is an ``IdentityStore``: one sub-store per aggregate. Names are unique
without regard to case, as in IAM (``get("BOB")`` finds ``bob``); relations use the stable ids
(``AIDA...``, ``AGPA...``, ``AROA...``, ``ANPA...``), so a renamed user keeps its keys and groups.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

__all__ = [
    "AccessKey",
    "AccessKeyStore",
    "AttachedPolicy",
    "Group",
    "GroupStore",
    "IdentityStore",
    "InlinePolicy",
    "InlinePolicyStore",
    "LoginProfile",
    "LoginProfileStore",
    "ManagedPolicy",
    "ManagedPolicyStore",
    "OwnerKind",
    "PolicyVersion",
    "Role",
    "RoleStore",
    "SessionStore",
    "StsSession",
    "Tags",
    "User",
    "UserStore",
]

Tags = tuple[tuple[str, str], ...]


class OwnerKind(Enum):
    """Who a policy is attached to or embedded in."""

    USER = "user"
    GROUP = "group"
    ROLE = "role"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    path: str
    arn: str
    created_at: datetime
    tags: Tags = ()
    permissions_boundary: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    name: str
    path: str
    arn: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    name: str
    path: str
    arn: str
    created_at: datetime
    trust_policy: str
    description: str = ""
    max_session_duration: int = 3600
    tags: Tags = ()
    permissions_boundary: str | None = None


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    """A customer managed policy. The counts are filled in on reads and ignored on writes."""

    id: str
    name: str
    path: str
    arn: str
    created_at: datetime
    updated_at: datetime
    default_version: str = "v1"
    description: str = ""
    versions_created: int = 1
    attachment_count: int = 0
    boundary_usage_count: int = 0


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    policy_id: str
    version_id: str
    document: str
    created_at: datetime
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class AttachedPolicy:
    """A managed policy attached to a principal, with its default version's document."""

    policy: ManagedPolicy
    document: str


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    owner_kind: OwnerKind
    owner_id: str
    name: str
    document: str


@dataclass(frozen=True, slots=True)
class AccessKey:
    """An IAM user's access key; ``secret`` is sealed with the master key, never clear."""

    id: str
    user_id: str
    secret: bytes
    status: str
    created_at: datetime
    last_used_at: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None


@dataclass(frozen=True, slots=True)
class LoginProfile:
    user_id: str
    password_hash: str
    created_at: datetime
    reset_required: bool = False


@dataclass(frozen=True, slots=True)
class StsSession:
    """Temporary credentials: a role session (``role_id``) or a session token of a user or root.

    ``secret`` is sealed with the master key; of the session token only a hash is kept.
    """

    access_key_id: str
    secret: bytes
    token_hash: str
    session_name: str
    source_arn: str
    created_at: datetime
    expires_at: datetime
    role_id: str | None = None
    user_id: str | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()


class UserStore(Protocol):
    async def get(self, name: str) -> User | None: ...

    async def get_by_id(self, user_id: str) -> User | None: ...

    async def create(self, user: User) -> User:
        """Insert; EntityAlreadyExistsError if the name is taken (in any case)."""

    async def update(self, user: User) -> None:
        """Write every field (found by id); EntityAlreadyExistsError if a new name is taken."""

    async def delete(self, user_id: str) -> None: ...

    async def list(
        self, path_prefix: str = "/", after: str | None = None, limit: int | None = None
    ) -> builtins.list[User]:
        """Users in name order (without case), names strictly after ``after``."""

    async def count(self) -> int: ...


class GroupStore(Protocol):
    async def get(self, name: str) -> Group | None: ...

    async def get_by_id(self, group_id: str) -> Group | None: ...

    async def create(self, group: Group) -> Group: ...

    async def update(self, group: Group) -> None: ...

    async def delete(self, group_id: str) -> None: ...

    async def list(
        self, path_prefix: str = "/", after: str | None = None, limit: int | None = None
    ) -> builtins.list[Group]: ...

    async def count(self) -> int: ...

    async def add_member(self, group_id: str, user_id: str) -> bool:
        """True if the user was not a member before."""

    async def remove_member(self, group_id: str, user_id: str) -> bool: ...

    async def members(self, group_id: str) -> builtins.list[User]: ...

    async def groups_of(self, user_id: str) -> builtins.list[Group]: ...


class RoleStore(Protocol):
    async def get(self, name: str) -> Role | None: ...

    async def get_by_id(self, role_id: str) -> Role | None: ...

    async def create(self, role: Role) -> Role: ...

    async def update(self, role: Role) -> None: ...

    async def delete(self, role_id: str) -> None: ...

    async def list(
        self, path_prefix: str = "/", after: str | None = None, limit: int | None = None
    ) -> builtins.list[Role]: ...

    async def count(self) -> int: ...


class ManagedPolicyStore(Protocol):
    async def get(self, arn: str) -> ManagedPolicy | None: ...

    async def create(self, policy: ManagedPolicy, document: str) -> ManagedPolicy:
        """Insert the policy and its first version (``policy.default_version``)."""

    async def update(self, policy: ManagedPolicy) -> None:
        """Write default version, description, versions created and updated time."""

    async def delete(self, policy_id: str) -> None:
        """Delete the policy with its versions and attachments."""

    async def list(
        self,
        path_prefix: str = "/",
        after: str | None = None,
        limit: int | None = None,
        only_attached: bool = False,
    ) -> builtins.list[ManagedPolicy]: ...

    async def count(self) -> int: ...

    async def add_version(self, version: PolicyVersion) -> None: ...

    async def get_version(self, policy_id: str, version_id: str) -> PolicyVersion | None: ...

    async def versions(self, policy_id: str) -> builtins.list[PolicyVersion]:
        """Newest first, as IAM lists them."""

    async def delete_version(self, policy_id: str, version_id: str) -> bool: ...

    async def attach(self, kind: OwnerKind, owner_id: str, policy_id: str) -> bool:
        """True if it was not attached before."""

    async def detach(self, kind: OwnerKind, owner_id: str, policy_id: str) -> bool: ...

    async def attached(
        self, kind: OwnerKind, owner_ids: Sequence[str]
    ) -> builtins.list[tuple[str, AttachedPolicy]]:
        """``(owner id, policy)`` for every policy attached to those owners, in name order."""

    async def attached_to(self, policy_id: str) -> builtins.list[tuple[OwnerKind, str]]:
        """The owners (kind and id) the policy is attached to."""


class InlinePolicyStore(Protocol):
    async def put(self, policy: InlinePolicy) -> None:
        """Insert or replace the owner's policy of that name."""

    async def get(self, kind: OwnerKind, owner_id: str, name: str) -> InlinePolicy | None: ...

    async def list(self, kind: OwnerKind, owner_ids: Sequence[str]) -> builtins.list[InlinePolicy]:
        """The policies of those owners, by owner then name."""

    async def delete(self, kind: OwnerKind, owner_id: str, name: str) -> bool: ...


class AccessKeyStore(Protocol):
    async def create(self, key: AccessKey) -> None: ...

    async def get(self, access_key_id: str) -> AccessKey | None: ...

    async def list(self, user_id: str) -> builtins.list[AccessKey]:
        """Oldest first."""

    async def set_status(self, access_key_id: str, status: str) -> bool: ...

    async def delete(self, access_key_id: str) -> bool: ...

    async def record_use(
        self, access_key_id: str, at: datetime, service: str, region: str
    ) -> None: ...

    async def count(self) -> int: ...


class LoginProfileStore(Protocol):
    async def get(self, user_id: str) -> LoginProfile | None: ...

    async def create(self, profile: LoginProfile) -> bool:
        """False (and no change) if the user already has one."""

    async def update(self, profile: LoginProfile) -> None: ...

    async def delete(self, user_id: str) -> bool: ...


class SessionStore(Protocol):
    async def create(self, session: StsSession) -> None: ...

    async def get(self, access_key_id: str) -> StsSession | None: ...

    async def delete_expired(self, before: datetime) -> int: ...


class IdentityStore(Protocol):
    users: UserStore
    groups: GroupStore
    roles: RoleStore
    policies: ManagedPolicyStore
    inline: InlinePolicyStore
    keys: AccessKeyStore
    logins: LoginProfileStore
    sessions: SessionStore
