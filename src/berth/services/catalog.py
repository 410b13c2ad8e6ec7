"""Browsing: the repositories a principal may describe and their images, a page at a time.

Every row shown passed the same decision the ECR API makes (``ecr:DescribeRepositories`` per
repository, ``ecr:DescribeImages`` for a repository's images, or ``ecr:ListImages`` for just their
digests and tags); the summaries come from a
``CatalogReader`` so a page costs a few queries whatever the registry's size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

from berth.errors import NameUnknownError
from berth.meta.catalog import CatalogReader, ImageSummary, RepositorySort, RepositorySummary
from berth.services.access import AccessService, Origin
from berth.types import Principal, RepositoryName

__all__ = ["CatalogService", "ImagePage", "RepositoryPage", "RepositoryQuery"]

MAX_SCAN = 2000
"""Repositories examined for one page at most; past that the page ends and offers to go on."""

_BATCH = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RepositoryQuery:
    search: str = ""
    sort: RepositorySort = RepositorySort.NAME
    descending: bool = False
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class RepositoryPage:
    """Repositories the principal may describe; ``next_offset`` continues the listing."""

    items: list[RepositorySummary]
    next_offset: int | None


@dataclass(frozen=True, slots=True)
class ImagePage:
    """A page of images. ``limited`` pages (the caller may ``ecr:ListImages`` but not
    ``ecr:DescribeImages``) carry only what ListImages returns: digests and tags."""

    items: list[ImageSummary]
    offset: int
    next_offset: int | None
    limited: bool = False
    refusal: str = ""


def _listed(image: ImageSummary) -> ImageSummary:
    """What ListImages tells: the digest and the tags, nothing else."""
    return dataclasses.replace(
        image, size=0, manifest_size=0, pushed_at=_EPOCH, last_pulled_at=None, subject=None
    )


class CatalogService:
    def __init__(self, reader: CatalogReader, access: AccessService) -> None:
        self.reader = reader
        self.access = access

    async def repositories(self, principal: Principal, query: RepositoryQuery) -> RepositoryPage:
        """Walk the sorted listing from ``query.offset``, keeping what the principal may see."""
        found: list[RepositorySummary] = []
        offset, scanned = query.offset, 0
        while scanned < MAX_SCAN:
            batch = await self.reader.repositories(
                search=query.search,
                sort=query.sort,
                descending=query.descending,
                offset=offset,
                limit=_BATCH,
            )
            for summary in batch:
                if len(found) == query.limit:
                    return RepositoryPage(found, offset)
                offset += 1
                scanned += 1
                if await self._may_describe(principal, summary.name):
                    found.append(summary)
            if len(batch) < _BATCH:
                return RepositoryPage(found, None)
        return RepositoryPage(found, offset)

    async def repository(
        self, principal: Principal, name: RepositoryName, origin: Origin | None = None
    ) -> RepositorySummary:
        """The repository's summary, if the principal may describe it (else the AWS refusal)."""
        arn = self.access.repository_arn(name)
        await self.access.authorize(principal, "ecr:DescribeRepositories", arn, origin=origin)
        summary = await self.reader.repository(name)
        if summary is None:
            raise NameUnknownError(
                f"The repository with name '{name}' does not exist in the registry with id "
                f"'{self.access.account}'",
                detail={"name": str(name)},
            )
        return summary

    async def images(
        self,
        principal: Principal,
        repository: RepositorySummary,
        *,
        tag: str = "",
        offset: int = 0,
        limit: int = 50,
    ) -> ImagePage:
        arn = self.access.repository_arn(repository.name)
        described = await self.access.decide(principal, "ecr:DescribeImages", arn)
        if not described.allowed:
            await self.access.authorize(principal, "ecr:ListImages", arn)
        rows = await self.reader.images(repository.id, tag=tag, offset=offset, limit=limit + 1)
        more = len(rows) > limit
        if not described.allowed:
            rows = [_listed(row) for row in rows]
        next_offset = offset + limit if more else None
        refusal = "" if described.allowed else described.message
        return ImagePage(rows[:limit], offset, next_offset, not described.allowed, refusal)

    async def _may_describe(self, principal: Principal, name: str) -> bool:
        arn = self.access.repository_arn(name)
        return await self.access.allows(principal, "ecr:DescribeRepositories", arn)
