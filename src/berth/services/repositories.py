"""Repositories: find, create, list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from berth.errors import NameUnknownError, RepositoryAlreadyExistsError
from berth.meta.base import MetaStore, Repository
from berth.types import RepositoryName

__all__ = ["RepositoryService"]


class RepositoryService:
    def __init__(self, meta: MetaStore, clock: Callable[[], datetime]) -> None:
        self.meta = meta
        self.clock = clock

    async def find(self, name: RepositoryName) -> Repository | None:
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
        try:
            return await self.create(name)
        except RepositoryAlreadyExistsError:
            return await self.get(name)

    async def list(self, after: str | None, limit: int) -> list[Repository]:
        async with self.meta.read() as tx:
            return await tx.repositories.list(after=after, limit=limit)
