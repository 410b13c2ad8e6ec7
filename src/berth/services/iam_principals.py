"""IAM users, groups and roles: create, read, list, update, delete, membership and tags."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from berth.errors import DeleteConflictError, NoSuchEntityError, QuotaExceededError
from berth.iam import PolicyKind
from berth.meta.identities import Group, IdentityStore, OwnerKind, Role, Tags, User
from berth.services.iam_common import (
    DEFAULT_MAX_ITEMS,
    ID_PREFIXES,
    IamContext,
    Page,
    check_name,
    check_path,
    check_tags,
    constraint_error,
    decode_marker,
    new_id,
    no_such_owner,
    page_of,
    policy_size,
)

__all__ = ["MAX_TRUST_POLICY", "PrincipalAdmin"]

MAX_TRUST_POLICY = 2048
MIN_SESSION, MAX_SESSION = 3600, 43200


class PrincipalAdmin:
    def __init__(self, iam: IamContext) -> None:
        self._iam = iam

    # -- users ---------------------------------------------------------------------------------

    async def create_user(
        self, name: str, path: str = "/", boundary: str | None = None, tags: Tags = ()
    ) -> User:
        check_name("userName", name)
        check_path(path)
        user = User(
            id=new_id(ID_PREFIXES[OwnerKind.USER]),
            name=name,
            path=path,
            arn=self._iam.arn("user", path, name),
            created_at=self._iam.clock(),
            tags=check_tags((), tags),
            permissions_boundary=boundary,
        )
        async with self._iam.meta.transaction() as tx:
            if boundary is not None:
                await _boundary_exists(tx.identities, boundary)
            await tx.identities.users.create(user)
        return user

    async def get_user(self, name: str) -> User:
        async with self._iam.meta.read() as tx:
            return await _user(tx.identities, name)

    async def list_users(
        self, path_prefix: str = "/", marker: str | None = None, max_items: int | None = None
    ) -> Page[User]:
        limit = max_items or DEFAULT_MAX_ITEMS
        async with self._iam.meta.read() as tx:
            found = await tx.identities.users.list(path_prefix, decode_marker(marker), limit + 1)
        return page_of(found, limit, lambda u: u.name)

    async def update_user(
        self, name: str, new_name: str | None = None, new_path: str | None = None
    ) -> None:
        async with self._iam.meta.transaction() as tx:
            user = await _user(tx.identities, name)
            renamed = check_name("newUserName", new_name or user.name)
            path = check_path(new_path or user.path, "newPath")
            arn = self._iam.arn("user", path, renamed)
            await tx.identities.users.update(
                dataclasses.replace(user, name=renamed, path=path, arn=arn)
            )
        self._iam.changed()

    async def delete_user(self, name: str) -> None:
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            user = await _user(ids, name)
            await _refuse_if_used(ids, user)
            await ids.users.delete(user.id)
        self._iam.changed()

    async def tag_user(self, name: str, tags: Sequence[tuple[str, str]]) -> None:
        async with self._iam.meta.transaction() as tx:
            user = await _user(tx.identities, name)
            merged = check_tags(user.tags, tags)
            await tx.identities.users.update(dataclasses.replace(user, tags=merged))
        self._iam.changed()

    async def untag_user(self, name: str, keys: Sequence[str]) -> None:
        async with self._iam.meta.transaction() as tx:
            user = await _user(tx.identities, name)
            kept = _without(user.tags, keys)
            await tx.identities.users.update(dataclasses.replace(user, tags=kept))
        self._iam.changed()

    # -- groups --------------------------------------------------------------------------------

    async def create_group(self, name: str, path: str = "/") -> Group:
        check_name("groupName", name)
        check_path(path)
        group = Group(
            id=new_id(ID_PREFIXES[OwnerKind.GROUP]),
            name=name,
            path=path,
            arn=self._iam.arn("group", path, name),
            created_at=self._iam.clock(),
        )
        async with self._iam.meta.transaction() as tx:
            await tx.identities.groups.create(group)
        return group

    async def get_group(self, name: str) -> tuple[Group, tuple[User, ...]]:
        async with self._iam.meta.read() as tx:
            group = await _group(tx.identities, name)
            return group, tuple(await tx.identities.groups.members(group.id))

    async def list_groups(
        self, path_prefix: str = "/", marker: str | None = None, max_items: int | None = None
    ) -> Page[Group]:
        limit = max_items or DEFAULT_MAX_ITEMS
        async with self._iam.meta.read() as tx:
            found = await tx.identities.groups.list(path_prefix, decode_marker(marker), limit + 1)
        return page_of(found, limit, lambda g: g.name)

    async def delete_group(self, name: str) -> None:
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            group = await _group(ids, name)
            if await ids.groups.members(group.id):
                raise DeleteConflictError(
                    "Cannot delete entity, must remove users from group first."
                )
            await _refuse_if_has_policies(ids, OwnerKind.GROUP, group.id)
            await ids.groups.delete(group.id)
        self._iam.changed()

    async def add_user_to_group(self, group_name: str, user_name: str) -> None:
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            group = await _group(ids, group_name)
            user = await _user(ids, user_name)
            if len(await ids.groups.groups_of(user.id)) >= 10:
                raise QuotaExceededError("Cannot exceed quota for GroupsPerUser: 10")
            await ids.groups.add_member(group.id, user.id)
        self._iam.changed()

    async def remove_user_from_group(self, group_name: str, user_name: str) -> None:
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            group = await _group(ids, group_name)
            user = await _user(ids, user_name)
            if not await ids.groups.remove_member(group.id, user.id):
                raise NoSuchEntityError(
                    f"The user with name {user_name} is not in group {group_name}."
                )
        self._iam.changed()

    async def groups_for_user(self, user_name: str) -> tuple[Group, ...]:
        async with self._iam.meta.read() as tx:
            user = await _user(tx.identities, user_name)
            return tuple(await tx.identities.groups.groups_of(user.id))

    # -- roles ---------------------------------------------------------------------------------

    async def create_role(
        self,
        name: str,
        trust_policy: str,
        *,
        path: str = "/",
        description: str = "",
        max_session_duration: int | None = None,
        boundary: str | None = None,
        tags: Tags = (),
    ) -> Role:
        check_name("roleName", name)
        check_path(path)
        self._check_trust(trust_policy)
        role = Role(
            id=new_id(ID_PREFIXES[OwnerKind.ROLE]),
            name=name,
            path=path,
            arn=self._iam.arn("role", path, name),
            created_at=self._iam.clock(),
            trust_policy=trust_policy,
            description=description,
            max_session_duration=_session_limit(max_session_duration or MIN_SESSION),
            tags=check_tags((), tags),
            permissions_boundary=boundary,
        )
        async with self._iam.meta.transaction() as tx:
            if boundary is not None:
                await _boundary_exists(tx.identities, boundary)
            await tx.identities.roles.create(role)
        return role

    def _check_trust(self, document: str) -> None:
        if policy_size(document) > MAX_TRUST_POLICY:
            raise QuotaExceededError(f"Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY}")
        self._iam.policies.parse(document, PolicyKind.TRUST)

    async def get_role(self, name: str) -> Role:
        async with self._iam.meta.read() as tx:
            return await _role(tx.identities, name)

    async def list_roles(
        self, path_prefix: str = "/", marker: str | None = None, max_items: int | None = None
    ) -> Page[Role]:
        limit = max_items or DEFAULT_MAX_ITEMS
        async with self._iam.meta.read() as tx:
            found = await tx.identities.roles.list(path_prefix, decode_marker(marker), limit + 1)
        return page_of(found, limit, lambda r: r.name)

    async def update_role(
        self, name: str, description: str | None = None, max_session_duration: int | None = None
    ) -> None:
        async with self._iam.meta.transaction() as tx:
            role = await _role(tx.identities, name)
            changed = dataclasses.replace(
                role,
                description=role.description if description is None else description,
                max_session_duration=_session_limit(
                    max_session_duration or role.max_session_duration
                ),
            )
            await tx.identities.roles.update(changed)
        self._iam.changed()

    async def update_trust_policy(self, name: str, document: str) -> None:
        self._check_trust(document)
        async with self._iam.meta.transaction() as tx:
            role = await _role(tx.identities, name)
            await tx.identities.roles.update(dataclasses.replace(role, trust_policy=document))
        self._iam.changed()

    async def delete_role(self, name: str) -> None:
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            role = await _role(ids, name)
            await _refuse_if_has_policies(ids, OwnerKind.ROLE, role.id)
            await ids.roles.delete(role.id)
        self._iam.changed()

    async def tag_role(self, name: str, tags: Sequence[tuple[str, str]]) -> None:
        async with self._iam.meta.transaction() as tx:
            role = await _role(tx.identities, name)
            merged = check_tags(role.tags, tags)
            await tx.identities.roles.update(dataclasses.replace(role, tags=merged))
        self._iam.changed()

    async def untag_role(self, name: str, keys: Sequence[str]) -> None:
        async with self._iam.meta.transaction() as tx:
            role = await _role(tx.identities, name)
            await tx.identities.roles.update(
                dataclasses.replace(role, tags=_without(role.tags, keys))
            )
        self._iam.changed()


def _session_limit(seconds: int) -> int:
    if not MIN_SESSION <= seconds <= MAX_SESSION:
        raise constraint_error(
            "maxSessionDuration",
            seconds,
            f"Member must have value between {MIN_SESSION} and {MAX_SESSION}",
        )
    return seconds


def _without(tags: Tags, keys: Sequence[str]) -> Tags:
    dropped = {key.lower() for key in keys}
    return tuple((k, v) for k, v in tags if k.lower() not in dropped)


async def _user(ids: IdentityStore, name: str) -> User:
    found = await ids.users.get(name)
    if found is None:
        raise no_such_owner(OwnerKind.USER, name)
    return found


async def _group(ids: IdentityStore, name: str) -> Group:
    found = await ids.groups.get(name)
    if found is None:
        raise no_such_owner(OwnerKind.GROUP, name)
    return found


async def _role(ids: IdentityStore, name: str) -> Role:
    found = await ids.roles.get(name)
    if found is None:
        raise no_such_owner(OwnerKind.ROLE, name)
    return found


async def _boundary_exists(ids: IdentityStore, arn: str) -> None:
    if await ids.policies.get(arn) is None:
        raise NoSuchEntityError(f"Policy {arn} does not exist or is not attachable.")


async def _refuse_if_has_policies(ids: IdentityStore, kind: OwnerKind, owner: str) -> None:
    if await ids.inline.list(kind, [owner]):
        raise DeleteConflictError("Cannot delete entity, must delete policies first.")
    if await ids.policies.attached(kind, [owner]):
        raise DeleteConflictError("Cannot delete entity, must detach all policies first.")


async def _refuse_if_used(ids: IdentityStore, user: User) -> None:
    """A user is deleted only once its keys, login profile, groups and policies are gone."""
    if await ids.keys.list(user.id):
        raise DeleteConflictError("Cannot delete entity, must delete access keys first.")
    if await ids.logins.get(user.id) is not None:
        raise DeleteConflictError("Cannot delete entity, must delete login profile first.")
    if await ids.groups.groups_of(user.id):
        raise DeleteConflictError("Cannot delete entity, must remove user from all groups first.")
    await _refuse_if_has_policies(ids, OwnerKind.USER, user.id)
