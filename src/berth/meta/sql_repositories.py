"""RepositoryStore over SQL."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, select

from berth.errors import RepositoryAlreadyExistsError
from berth.meta.base import Repository
from berth.meta.schema import repositories
from berth.meta.sql_common import AnyRow, InsertFactory, SqlConnection

__all__ = ["SqlRepositoryStore"]

_t = repositories


def _values(repository: Repository) -> dict[str, Any]:
    return {
        "name": repository.name,
        "created_at": repository.created_at,
        "tag_mutability": repository.tag_mutability,
        "tag_mutability_exclusions": list(repository.tag_mutability_exclusions),
        "scan_on_push": repository.scan_on_push,
        "encryption_type": repository.encryption_type,
        "kms_key": repository.kms_key,
        "policy": repository.policy,
        "lifecycle_policy": repository.lifecycle_policy,
        "resource_tags": dict(repository.resource_tags),
    }


def _repository(row: AnyRow) -> Repository:
    return Repository(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        tag_mutability=row.tag_mutability,
        tag_mutability_exclusions=tuple(row.tag_mutability_exclusions),
        scan_on_push=bool(row.scan_on_push),
        encryption_type=row.encryption_type,
        kms_key=row.kms_key,
        policy=row.policy,
        lifecycle_policy=row.lifecycle_policy,
        resource_tags=tuple(row.resource_tags.items()),
    )


class SqlRepositoryStore:
    def __init__(self, conn: SqlConnection, insert: InsertFactory, registry_id: str) -> None:
        self._conn = conn
        self._insert = insert
        self._registry_id = registry_id

    def _exists_error(self, name: str) -> RepositoryAlreadyExistsError:
        return RepositoryAlreadyExistsError(
            f"The repository with name '{name}' already exists in the registry "
            f"with id '{self._registry_id}'",
            detail={"repositoryName": name},
        )

    async def get(self, name: str) -> Repository | None:
        row = (await self._conn.execute(select(_t).where(_t.c.name == name))).first()
        return None if row is None else _repository(row)

    async def get_by_id(self, repository_id: int) -> Repository | None:
        row = (await self._conn.execute(select(_t).where(_t.c.id == repository_id))).first()
        return None if row is None else _repository(row)

    async def create(self, repository: Repository) -> Repository:
        statement = (
            self._insert(_t)
            .values(_values(repository))
            .on_conflict_do_nothing(index_elements=[_t.c.name])
            .returning(_t.c.id)
        )
        new_id = (await self._conn.execute(statement)).scalar()
        if new_id is None:
            raise self._exists_error(repository.name)
        return dataclasses.replace(repository, id=new_id)

    async def update(self, repository: Repository) -> None:
        clash = select(_t.c.id).where(_t.c.name == repository.name, _t.c.id != repository.id)
        if (await self._conn.execute(clash)).first() is not None:
            raise self._exists_error(repository.name)
        await self._conn.execute(
            _t.update().where(_t.c.id == repository.id).values(_values(repository))
        )

    async def delete(self, repository_id: int) -> None:
        await self._conn.execute(_t.delete().where(_t.c.id == repository_id))

    async def list(self, after: str | None = None, limit: int | None = None) -> list[Repository]:
        query = select(_t).order_by(_t.c.name).limit(limit)
        if after is not None:
            query = query.where(_t.c.name > after)
        return [_repository(row) for row in await self._conn.execute(query)]

    async def count(self) -> int:
        return (await self._conn.execute(select(func.count()).select_from(_t))).scalar_one()
