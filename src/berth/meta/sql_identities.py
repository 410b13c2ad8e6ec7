"""IdentityStore over SQL: users, groups and roles here; policies and credentials beside it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Table, func, select

from berth.errors import EntityAlreadyExistsError
from berth.meta.identities import (
    AccessKeyStore,
    Group,
    GroupStore,
    InlinePolicyStore,
    LoginProfileStore,
    ManagedPolicyStore,
    Role,
    RoleStore,
    SessionStore,
    User,
    UserStore,
)
from berth.meta.schema import iam_group_members, iam_groups, iam_roles, iam_users
from berth.meta.sql_common import AnyRow, InsertFactory, SqlConnection, starts_with
from berth.meta.sql_iam_credentials import (
    SqlAccessKeyStore,
    SqlLoginProfileStore,
    SqlSessionStore,
)
from berth.meta.sql_iam_policies import SqlInlinePolicyStore, SqlManagedPolicyStore

__all__ = ["SqlGroupStore", "SqlIdentityStore", "SqlRoleStore", "SqlUserStore"]


class _Named(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


E = TypeVar("E", bound=_Named)


def _common(entity: _Named) -> dict[str, Any]:
    return {"name": entity.name, "name_key": entity.name.lower()}


def _user_values(user: User) -> dict[str, Any]:
    return {
        "path": user.path,
        "arn": user.arn,
        "created_at": user.created_at,
        "tags": [list(pair) for pair in user.tags],
        "permissions_boundary": user.permissions_boundary,
    }


def _user(row: AnyRow) -> User:
    return User(
        id=row.id,
        name=row.name,
        path=row.path,
        arn=row.arn,
        created_at=row.created_at,
        tags=tuple((str(k), str(v)) for k, v in row.tags),
        permissions_boundary=row.permissions_boundary,
    )


def _group_values(group: Group) -> dict[str, Any]:
    return {"path": group.path, "arn": group.arn, "created_at": group.created_at}


def _group(row: AnyRow) -> Group:
    return Group(id=row.id, name=row.name, path=row.path, arn=row.arn, created_at=row.created_at)


def _role_values(role: Role) -> dict[str, Any]:
    return {
        "path": role.path,
        "arn": role.arn,
        "created_at": role.created_at,
        "trust_policy": role.trust_policy,
        "description": role.description,
        "max_session_duration": role.max_session_duration,
        "tags": [list(pair) for pair in role.tags],
        "permissions_boundary": role.permissions_boundary,
    }


def _role(row: AnyRow) -> Role:
    return Role(
        id=row.id,
        name=row.name,
        path=row.path,
        arn=row.arn,
        created_at=row.created_at,
        trust_policy=row.trust_policy,
        description=row.description,
        max_session_duration=row.max_session_duration,
        tags=tuple((str(k), str(v)) for k, v in row.tags),
        permissions_boundary=row.permissions_boundary,
    )


class _NamedTable(Generic[E]):
    """get / create / update / delete / list / count for a table of named IAM entities."""

    noun = ""

    def __init__(
        self,
        conn: SqlConnection,
        table: Table,
        values: Callable[[E], dict[str, Any]],
        entity: Callable[[AnyRow], E],
    ) -> None:
        self._conn = conn
        self._t = table
        self._values = values
        self._entity = entity

    def _exists(self, name: str) -> EntityAlreadyExistsError:
        return EntityAlreadyExistsError(f"{self.noun} with name {name} already exists.")

    async def get(self, name: str) -> E | None:
        query = select(self._t).where(self._t.c.name_key == name.lower())
        row = (await self._conn.execute(query)).first()
        return None if row is None else self._entity(row)

    async def get_by_id(self, entity_id: str) -> E | None:
        row = (await self._conn.execute(select(self._t).where(self._t.c.id == entity_id))).first()
        return None if row is None else self._entity(row)

    async def _taken(self, entity: E) -> bool:
        query = select(self._t.c.id).where(
            self._t.c.name_key == entity.name.lower(), self._t.c.id != entity.id
        )
        return (await self._conn.execute(query)).first() is not None

    async def create(self, entity: E) -> E:
        if await self._taken(entity):
            raise self._exists(entity.name)
        values = {"id": entity.id, **_common(entity), **self._values(entity)}
        await self._conn.execute(self._t.insert().values(values))
        return entity

    async def update(self, entity: E) -> None:
        if await self._taken(entity):
            raise self._exists(entity.name)
        values = {**_common(entity), **self._values(entity)}
        await self._conn.execute(self._t.update().where(self._t.c.id == entity.id).values(values))

    async def delete(self, entity_id: str) -> None:
        await self._conn.execute(self._t.delete().where(self._t.c.id == entity_id))

    async def list(
        self, path_prefix: str = "/", after: str | None = None, limit: int | None = None
    ) -> list[E]:
        query = select(self._t).order_by(self._t.c.name_key).limit(limit)
        if path_prefix != "/":
            query = query.where(starts_with(self._t.c.path, path_prefix))
        if after is not None:
            query = query.where(self._t.c.name_key > after.lower())
        return [self._entity(row) for row in await self._conn.execute(query)]

    async def count(self) -> int:
        query = select(func.count()).select_from(self._t)
        return (await self._conn.execute(query)).scalar_one()


class SqlUserStore(_NamedTable[User]):
    noun = "User"

    def __init__(self, conn: SqlConnection) -> None:
        super().__init__(conn, iam_users, _user_values, _user)


class SqlRoleStore(_NamedTable[Role]):
    noun = "Role"

    def __init__(self, conn: SqlConnection) -> None:
        super().__init__(conn, iam_roles, _role_values, _role)


class SqlGroupStore(_NamedTable[Group]):
    noun = "Group"

    def __init__(self, conn: SqlConnection, insert: InsertFactory) -> None:
        super().__init__(conn, iam_groups, _group_values, _group)
        self._insert = insert

    async def add_member(self, group_id: str, user_id: str) -> bool:
        statement = (
            self._insert(iam_group_members)
            .values(group_id=group_id, user_id=user_id)
            .on_conflict_do_nothing()
        )
        return bool((await self._conn.execute(statement)).rowcount)

    async def remove_member(self, group_id: str, user_id: str) -> bool:
        m = iam_group_members
        statement = m.delete().where(m.c.group_id == group_id, m.c.user_id == user_id)
        return bool((await self._conn.execute(statement)).rowcount)

    async def members(self, group_id: str) -> list[User]:
        m = iam_group_members
        query = (
            select(iam_users)
            .join(m, m.c.user_id == iam_users.c.id)
            .where(m.c.group_id == group_id)
            .order_by(iam_users.c.name_key)
        )
        return [_user(row) for row in await self._conn.execute(query)]

    async def groups_of(self, user_id: str) -> list[Group]:
        m = iam_group_members
        query = (
            select(iam_groups)
            .join(m, m.c.group_id == iam_groups.c.id)
            .where(m.c.user_id == user_id)
            .order_by(iam_groups.c.name_key)
        )
        return [_group(row) for row in await self._conn.execute(query)]


@dataclass(slots=True)
class SqlIdentityStore:
    users: UserStore
    groups: GroupStore
    roles: RoleStore
    policies: ManagedPolicyStore
    inline: InlinePolicyStore
    keys: AccessKeyStore
    logins: LoginProfileStore
    sessions: SessionStore

    @classmethod
    def bind(cls, conn: SqlConnection, insert: InsertFactory) -> SqlIdentityStore:
        return cls(
            users=SqlUserStore(conn),
            groups=SqlGroupStore(conn, insert),
            roles=SqlRoleStore(conn),
            policies=SqlManagedPolicyStore(conn, insert),
            inline=SqlInlinePolicyStore(conn, insert),
            keys=SqlAccessKeyStore(conn),
            logins=SqlLoginProfileStore(conn, insert),
            sessions=SqlSessionStore(conn),
        )
