"""Repositories: find, create, list."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from berth.errors import NameUnknownError, RepositoryAlreadyExistsError, RepositoryNotEmptyError
from berth.meta.base import MetaStore, Repository
from berth.meta.cache import ReadCache
from berth.services.templates import CREATE_ON_PUSH, load_templates, matching_template
from berth.types import RepositoryName

__all__ = ["RepositoryService"]


class RepositoryService:
    def __init__(self, meta: MetaStore, clock: Callable[[], datetime]) -> None:
        self.meta = meta
        self.clock = clock
        self._found: ReadCache[Repository] = ReadCache(meta, ("repositories",))

    async def find(self, name: RepositoryName) -> Repository | None:
        return await self._found.get(name, lambda: self._find(name))

    async def _find(self, name: RepositoryName) -> Repository | None:
        async with self.meta.read() as tx:
            return await tx.repositories.get(name)

    async def get(self, name: RepositoryName) -> Repository:
        repository = await self.find(name)
        if repository is None:
            raise NameUnknownError(
                f"repository name not known to registry: {name}", detail={"name": str(name)}
            )
        return repository

    async def create(self, name: RepositoryName, **config: object) -> Repository:
        draft = Repository(id=0, name=str(name), created_at=self.clock(), **config)  # type: ignore[arg-type]
        async with self.meta.transaction() as tx:
            return await tx.repositories.create(draft)

    async def ensure(self, name: RepositoryName) -> Repository:
        """The repository, created if missing (the caller has authorized the creation)."""
        existing = await self.find(name)
        if existing is not None:
            return existing
        async with self.meta.read() as tx:
            template = matching_template(await load_templates(tx), name, CREATE_ON_PUSH)
        config = {} if template is None else template.repository_config()
        try:
            return await self.create(name, **config)
        except RepositoryAlreadyExistsError:
            return await self.get(name)

    async def list(self, after: str | None, limit: int) -> list[Repository]:
        async with self.meta.read() as tx:
            return await tx.repositories.list(after=after, limit=limit)

    async def update(self, repository: Repository, **changes: object) -> Repository:
        """Change configuration fields (tag mutability, scanning, tags, policy) of a repository."""
        async with self.meta.transaction() as tx:
            current = await tx.repositories.get_by_id(repository.id)
            if current is None:
                raise NameUnknownError(
                    f"repository name not known to registry: {repository.name}",
                    detail={"name": repository.name},
                )
            updated = dataclasses.replace(current, **changes)  # type: ignore[arg-type]
            await tx.repositories.update(updated)
        return updated

    async def delete(self, repository: Repository, *, force: bool, registry_id: str) -> None:
        """Delete a repository; one that holds images only with ``force`` (ECR's rule)."""
        async with self.meta.transaction() as tx:
            if not force and await tx.manifests.count(repository.id) > 0:
                raise RepositoryNotEmptyError(
                    f"The repository with name '{repository.name}' in registry with id "
                    f"'{registry_id}' cannot be deleted because it still contains images"
                )
            await tx.repositories.delete(repository.id)
