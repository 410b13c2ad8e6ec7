"""Managed policies and their versions, attachments, inline policies and permissions boundaries."""

from __future__ import annotations

import dataclasses

from berth.errors import DeleteConflictError, NoSuchEntityError, QuotaExceededError
from berth.iam import PolicyKind
from berth.meta.identities import (
    IdentityStore,
    InlinePolicy,
    ManagedPolicy,
    OwnerKind,
    PolicyVersion,
)
from berth.services.iam_common import (
    DEFAULT_MAX_ITEMS,
    IamContext,
    Page,
    check_name,
    check_path,
    decode_marker,
    new_id,
    owner_id,
    page_of,
    policy_size,
)

__all__ = [
    "INLINE_LIMITS",
    "MANAGED_PER_OWNER",
    "MAX_MANAGED_POLICY",
    "MAX_VERSIONS",
    "PolicyAdmin",
]

MAX_MANAGED_POLICY = 6144
MAX_VERSIONS = 5
MANAGED_PER_OWNER = 10
INLINE_LIMITS = {OwnerKind.USER: 2048, OwnerKind.GROUP: 5120, OwnerKind.ROLE: 10240}
_QUOTA_NAMES = {
    OwnerKind.USER: "PoliciesPerUser",
    OwnerKind.GROUP: "PoliciesPerGroup",
    OwnerKind.ROLE: "PoliciesPerRole",
}


def _not_attachable(arn: str) -> NoSuchEntityError:
    return NoSuchEntityError(f"Policy {arn} does not exist or is not attachable.")


class PolicyAdmin:
    def __init__(self, iam: IamContext) -> None:
        self._iam = iam

    def _check_managed(self, document: str) -> None:
        if policy_size(document) > MAX_MANAGED_POLICY:
            raise QuotaExceededError(f"Cannot exceed quota for PolicySize: {MAX_MANAGED_POLICY}")
        self._iam.policies.parse(document, PolicyKind.IDENTITY)

    # -- managed policies ----------------------------------------------------------------------

    async def create_policy(
        self, name: str, document: str, path: str = "/", description: str = ""
    ) -> ManagedPolicy:
        check_name("policyName", name)
        check_path(path)
        self._check_managed(document)
        now = self._iam.clock()
        policy = ManagedPolicy(
            id=new_id("ANPA"),
            name=name,
            path=path,
            arn=self._iam.arn("policy", path, name),
            created_at=now,
            updated_at=now,
            description=description,
        )
        async with self._iam.meta.transaction() as tx:
            return await tx.identities.policies.create(policy, document)

    async def get_policy(self, arn: str) -> ManagedPolicy:
        async with self._iam.meta.read() as tx:
            return await _policy(tx.identities, arn)

    async def list_policies(
        self,
        scope: str = "All",
        only_attached: bool = False,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[ManagedPolicy]:
        if scope == "AWS":
            return Page(())
        limit = max_items or DEFAULT_MAX_ITEMS
        after = decode_marker(marker)
        async with self._iam.meta.read() as tx:
            found = await tx.identities.policies.list(path_prefix, after, limit + 1, only_attached)
        return page_of(found, limit, lambda p: p.name)

    async def delete_policy(self, arn: str) -> None:
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            policy = await _policy(ids, arn)
            if policy.attachment_count:
                raise DeleteConflictError("Cannot delete a policy attached to entities.")
            if policy.boundary_usage_count:
                raise DeleteConflictError("Cannot delete a policy used as a permissions boundary.")
            if len(await ids.policies.versions(policy.id)) > 1:
                raise DeleteConflictError(
                    "This policy has more than one version. Before you delete a policy, you must "
                    "delete the policy's versions. The default version is deleted with the policy."
                )
            await ids.policies.delete(policy.id)
        self._iam.changed()

    # -- versions ------------------------------------------------------------------------------

    async def create_version(self, arn: str, document: str, set_default: bool) -> PolicyVersion:
        self._check_managed(document)
        now = self._iam.clock()
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            policy = await _policy(ids, arn)
            if len(await ids.policies.versions(policy.id)) >= MAX_VERSIONS:
                raise QuotaExceededError(
                    f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a "
                    "new version, you must delete an existing version."
                )
            number = policy.versions_created + 1
            version = PolicyVersion(policy.id, f"v{number}", document, now, set_default)
            await ids.policies.add_version(version)
            default = version.version_id if set_default else policy.default_version
            await ids.policies.update(
                dataclasses.replace(
                    policy, versions_created=number, default_version=default, updated_at=now
                )
            )
        self._iam.changed()
        return version

    async def get_version(self, arn: str, version_id: str) -> PolicyVersion:
        async with self._iam.meta.read() as tx:
            policy = await _policy(tx.identities, arn)
            return await _version(tx.identities, policy, version_id)

    async def list_versions(self, arn: str) -> tuple[PolicyVersion, ...]:
        async with self._iam.meta.read() as tx:
            policy = await _policy(tx.identities, arn)
            return tuple(await tx.identities.policies.versions(policy.id))

    async def delete_version(self, arn: str, version_id: str) -> None:
        async with self._iam.meta.transaction() as tx:
            policy = await _policy(tx.identities, arn)
            await _version(tx.identities, policy, version_id)
            if version_id == policy.default_version:
                raise DeleteConflictError("Cannot delete the default version of a policy.")
            await tx.identities.policies.delete_version(policy.id, version_id)

    async def set_default_version(self, arn: str, version_id: str) -> None:
        async with self._iam.meta.transaction() as tx:
            policy = await _policy(tx.identities, arn)
            await _version(tx.identities, policy, version_id)
            changed = dataclasses.replace(
                policy, default_version=version_id, updated_at=self._iam.clock()
            )
            await tx.identities.policies.update(changed)
        self._iam.changed()

    # -- attachments ---------------------------------------------------------------------------

    async def attach(self, kind: OwnerKind, owner: str, arn: str) -> None:
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            owner_key = await owner_id(ids, kind, owner)
            policy = await ids.policies.get(arn)
            if policy is None:
                raise _not_attachable(arn)
            if len(await ids.policies.attached(kind, [owner_key])) >= MANAGED_PER_OWNER:
                raise QuotaExceededError(
                    f"Cannot exceed quota for {_QUOTA_NAMES[kind]}: {MANAGED_PER_OWNER}"
                )
            await ids.policies.attach(kind, owner_key, policy.id)
        self._iam.changed()

    async def detach(self, kind: OwnerKind, owner: str, arn: str) -> None:
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            owner_key = await owner_id(ids, kind, owner)
            policy = await ids.policies.get(arn)
            if policy is None or not await ids.policies.detach(kind, owner_key, policy.id):
                raise NoSuchEntityError(f"Policy {arn} was not found.")
        self._iam.changed()

    async def attached(
        self,
        kind: OwnerKind,
        owner: str,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[ManagedPolicy]:
        async with self._iam.meta.read() as tx:
            owner_key = await owner_id(tx.identities, kind, owner)
            found = await tx.identities.policies.attached(kind, [owner_key])
        after = decode_marker(marker)
        policies = [
            a.policy
            for _, a in found
            if a.policy.path.startswith(path_prefix) and (after is None or a.policy.name > after)
        ]
        return page_of(policies, max_items or DEFAULT_MAX_ITEMS, lambda p: p.name)

    # -- inline policies -----------------------------------------------------------------------

    async def put_inline(self, kind: OwnerKind, owner: str, name: str, document: str) -> None:
        check_name("policyName", name)
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            owner_key = await owner_id(ids, kind, owner)
            others = [p for p in await ids.inline.list(kind, [owner_key]) if p.name != name]
            total = policy_size(document) + sum(policy_size(p.document) for p in others)
            if total > INLINE_LIMITS[kind]:
                raise QuotaExceededError(
                    f"Maximum policy size of {INLINE_LIMITS[kind]} bytes exceeded for "
                    f"{kind.value} {owner}"
                )
            self._iam.policies.parse(document, PolicyKind.IDENTITY)
            await ids.inline.put(InlinePolicy(kind, owner_key, name, document))
        self._iam.changed()

    async def get_inline(self, kind: OwnerKind, owner: str, name: str) -> InlinePolicy:
        async with self._iam.meta.read() as tx:
            owner_key = await owner_id(tx.identities, kind, owner)
            found = await tx.identities.inline.get(kind, owner_key, name)
        if found is None:
            raise _no_inline(kind, name)
        return found

    async def list_inline(
        self, kind: OwnerKind, owner: str, marker: str | None = None, max_items: int | None = None
    ) -> Page[str]:
        async with self._iam.meta.read() as tx:
            owner_key = await owner_id(tx.identities, kind, owner)
            found = await tx.identities.inline.list(kind, [owner_key])
        after = decode_marker(marker)
        names = [p.name for p in found if after is None or p.name > after]
        return page_of(names, max_items or DEFAULT_MAX_ITEMS, lambda n: n)

    async def delete_inline(self, kind: OwnerKind, owner: str, name: str) -> None:
        async with self._iam.meta.transaction() as tx:
            owner_key = await owner_id(tx.identities, kind, owner)
            if not await tx.identities.inline.delete(kind, owner_key, name):
                raise _no_inline(kind, name)
        self._iam.changed()

    # -- permissions boundaries ----------------------------------------------------------------

    async def put_boundary(self, kind: OwnerKind, owner: str, arn: str | None) -> None:
        """Set (or with ``arn=None`` remove) the boundary of a user or role."""
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            if arn is not None and await ids.policies.get(arn) is None:
                raise _not_attachable(arn)
            if kind is OwnerKind.USER:
                user = await ids.users.get(owner)
                if user is None:
                    raise NoSuchEntityError(f"The user with name {owner} cannot be found.")
                await ids.users.update(dataclasses.replace(user, permissions_boundary=arn))
            else:
                role = await ids.roles.get(owner)
                if role is None:
                    raise NoSuchEntityError(f"The role with name {owner} cannot be found.")
                await ids.roles.update(dataclasses.replace(role, permissions_boundary=arn))
        self._iam.changed()


def _no_inline(kind: OwnerKind, name: str) -> NoSuchEntityError:
    return NoSuchEntityError(f"The {kind.value} policy with name {name} cannot be found.")


async def _policy(ids: IdentityStore, arn: str) -> ManagedPolicy:
    found = await ids.policies.get(arn)
    if found is None:
        raise NoSuchEntityError(f"Policy {arn} was not found.")
    return found


async def _version(ids: IdentityStore, policy: ManagedPolicy, version_id: str) -> PolicyVersion:
    found = await ids.policies.get_version(policy.id, version_id)
    if found is None:
        raise NoSuchEntityError(f"Policy {policy.arn} version {version_id} does not exist.")
    return found
