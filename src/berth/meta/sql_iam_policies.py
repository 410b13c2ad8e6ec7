"""Managed policies (with versions and attachments) and inline policies over SQL."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from sqlalchemy import Select, and_, func, select

from berth.errors import EntityAlreadyExistsError
from berth.meta.identities import (
    AttachedPolicy,
    InlinePolicy,
    ManagedPolicy,
    OwnerKind,
    PolicyVersion,
)
from berth.meta.schema import (
    iam_attachments,
    iam_inline_policies,
    iam_policies,
    iam_policy_versions,
    iam_roles,
    iam_users,
)
from berth.meta.sql_common import AnyRow, InsertFactory, SqlConnection, starts_with

__all__ = ["SqlInlinePolicyStore", "SqlManagedPolicyStore"]

_p = iam_policies
_v = iam_policy_versions
_a = iam_attachments
_i = iam_inline_policies


def _attachment_count() -> object:
    counted = _a.alias("counted")
    return (
        select(func.count())
        .select_from(counted)
        .where(counted.c.policy_id == _p.c.id)
        .correlate(_p)
        .scalar_subquery()
        .label("attachment_count")
    )


def _boundary_count() -> object:
    used = [
        select(func.count())
        .select_from(table)
        .where(table.c.permissions_boundary == _p.c.arn)
        .correlate(_p)
        .scalar_subquery()
        for table in (iam_users, iam_roles)
    ]
    return (used[0] + used[1]).label("boundary_usage_count")


def _policies() -> Select[tuple[object, ...]]:
    return select(_p, _attachment_count(), _boundary_count())  # type: ignore[call-overload, no-any-return]


def _policy(row: AnyRow) -> ManagedPolicy:
    return ManagedPolicy(
        id=row.id,
        name=row.name,
        path=row.path,
        arn=row.arn,
        created_at=row.created_at,
        updated_at=row.updated_at,
        default_version=row.default_version,
        description=row.description,
        versions_created=row.versions_created,
        attachment_count=row.attachment_count,
        boundary_usage_count=row.boundary_usage_count,
    )


def _version(row: AnyRow, default: str) -> PolicyVersion:
    return PolicyVersion(
        policy_id=row.policy_id,
        version_id=row.version_id,
        document=row.document,
        created_at=row.created_at,
        is_default=row.version_id == default,
    )


class SqlManagedPolicyStore:
    def __init__(self, conn: SqlConnection, insert: InsertFactory) -> None:
        self._conn = conn
        self._insert = insert

    async def get(self, arn: str) -> ManagedPolicy | None:
        row = (await self._conn.execute(_policies().where(_p.c.arn == arn))).first()
        return None if row is None else _policy(row)

    async def create(self, policy: ManagedPolicy, document: str) -> ManagedPolicy:
        taken = select(_p.c.id).where(_p.c.name_key == policy.name.lower())
        if (await self._conn.execute(taken)).first() is not None:
            raise EntityAlreadyExistsError(
                f"A policy called {policy.name} already exists. Duplicate names are not allowed."
            )
        await self._conn.execute(
            _p.insert().values(
                id=policy.id,
                name=policy.name,
                name_key=policy.name.lower(),
                path=policy.path,
                arn=policy.arn,
                created_at=policy.created_at,
                updated_at=policy.updated_at,
                default_version=policy.default_version,
                description=policy.description,
                versions_created=policy.versions_created,
            )
        )
        await self.add_version(
            PolicyVersion(policy.id, policy.default_version, document, policy.created_at)
        )
        return policy

    async def update(self, policy: ManagedPolicy) -> None:
        await self._conn.execute(
            _p.update()
            .where(_p.c.id == policy.id)
            .values(
                default_version=policy.default_version,
                description=policy.description,
                versions_created=policy.versions_created,
                updated_at=policy.updated_at,
            )
        )

    async def delete(self, policy_id: str) -> None:
        await self._conn.execute(_a.delete().where(_a.c.policy_id == policy_id))
        await self._conn.execute(_v.delete().where(_v.c.policy_id == policy_id))
        await self._conn.execute(_p.delete().where(_p.c.id == policy_id))

    async def list(
        self,
        path_prefix: str = "/",
        after: str | None = None,
        limit: int | None = None,
        only_attached: bool = False,
    ) -> list[ManagedPolicy]:
        query = _policies().order_by(_p.c.name_key).limit(limit)
        if path_prefix != "/":
            query = query.where(starts_with(_p.c.path, path_prefix))
        if after is not None:
            query = query.where(_p.c.name_key > after.lower())
        if only_attached:
            query = query.where(select(_a.c.policy_id).where(_a.c.policy_id == _p.c.id).exists())
        return [_policy(row) for row in await self._conn.execute(query)]

    async def count(self) -> int:
        return (await self._conn.execute(select(func.count()).select_from(_p))).scalar_one()

    async def add_version(self, version: PolicyVersion) -> None:
        await self._conn.execute(
            _v.insert().values(
                policy_id=version.policy_id,
                version_id=version.version_id,
                document=version.document,
                created_at=version.created_at,
            )
        )

    async def _default(self, policy_id: str) -> str:
        query = select(_p.c.default_version).where(_p.c.id == policy_id)
        return (await self._conn.execute(query)).scalar() or ""

    async def get_version(self, policy_id: str, version_id: str) -> PolicyVersion | None:
        query = select(_v).where(_v.c.policy_id == policy_id, _v.c.version_id == version_id)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _version(row, await self._default(policy_id))

    async def versions(self, policy_id: str) -> builtins.list[PolicyVersion]:
        default = await self._default(policy_id)
        rows = await self._conn.execute(select(_v).where(_v.c.policy_id == policy_id))
        found = [_version(row, default) for row in rows]
        return sorted(found, key=lambda v: (v.created_at, int(v.version_id[1:])), reverse=True)

    async def delete_version(self, policy_id: str, version_id: str) -> bool:
        statement = _v.delete().where(_v.c.policy_id == policy_id, _v.c.version_id == version_id)
        return bool((await self._conn.execute(statement)).rowcount)

    async def attach(self, kind: OwnerKind, owner_id: str, policy_id: str) -> bool:
        statement = (
            self._insert(_a)
            .values(owner_kind=kind.value, owner_id=owner_id, policy_id=policy_id)
            .on_conflict_do_nothing()
        )
        return bool((await self._conn.execute(statement)).rowcount)

    async def detach(self, kind: OwnerKind, owner_id: str, policy_id: str) -> bool:
        statement = _a.delete().where(
            _a.c.owner_kind == kind.value, _a.c.owner_id == owner_id, _a.c.policy_id == policy_id
        )
        return bool((await self._conn.execute(statement)).rowcount)

    async def attached(
        self, kind: OwnerKind, owner_ids: Sequence[str]
    ) -> builtins.list[tuple[str, AttachedPolicy]]:
        if not owner_ids:
            return []
        query = (
            _policies()
            .add_columns(_a.c.owner_id, _v.c.document)
            .join(_a, _a.c.policy_id == _p.c.id)
            .join(_v, and_(_v.c.policy_id == _p.c.id, _v.c.version_id == _p.c.default_version))
            .where(_a.c.owner_kind == kind.value, _a.c.owner_id.in_(list(owner_ids)))
            .order_by(_a.c.owner_id, _p.c.name_key)
        )
        return [
            (row.owner_id, AttachedPolicy(_policy(row), row.document))
            for row in await self._conn.execute(query)
        ]

    async def attached_to(self, policy_id: str) -> builtins.list[tuple[OwnerKind, str]]:
        query = select(_a.c.owner_kind, _a.c.owner_id).where(_a.c.policy_id == policy_id)
        return [
            (OwnerKind(row.owner_kind), row.owner_id) for row in await self._conn.execute(query)
        ]


class SqlInlinePolicyStore:
    def __init__(self, conn: SqlConnection, insert: InsertFactory) -> None:
        self._conn = conn
        self._insert = insert

    async def put(self, policy: InlinePolicy) -> None:
        statement = self._insert(_i).values(
            owner_kind=policy.owner_kind.value,
            owner_id=policy.owner_id,
            name=policy.name,
            document=policy.document,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[_i.c.owner_kind, _i.c.owner_id, _i.c.name],
            set_={"document": statement.excluded.document},
        )
        await self._conn.execute(statement)

    async def get(self, kind: OwnerKind, owner_id: str, name: str) -> InlinePolicy | None:
        query = select(_i).where(
            _i.c.owner_kind == kind.value, _i.c.owner_id == owner_id, _i.c.name == name
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _inline(row)

    async def list(self, kind: OwnerKind, owner_ids: Sequence[str]) -> list[InlinePolicy]:
        if not owner_ids:
            return []
        query = (
            select(_i)
            .where(_i.c.owner_kind == kind.value, _i.c.owner_id.in_(list(owner_ids)))
            .order_by(_i.c.owner_id, _i.c.name)
        )
        return [_inline(row) for row in await self._conn.execute(query)]

    async def delete(self, kind: OwnerKind, owner_id: str, name: str) -> bool:
        statement = _i.delete().where(
            _i.c.owner_kind == kind.value, _i.c.owner_id == owner_id, _i.c.name == name
        )
        return bool((await self._conn.execute(statement)).rowcount)


def _inline(row: AnyRow) -> InlinePolicy:
    return InlinePolicy(OwnerKind(row.owner_kind), row.owner_id, row.name, row.document)
