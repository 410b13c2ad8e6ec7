"""Read models for browsing the registry: summaries computed by the database, a page at a time.

The console lists a thousand repositories and their images without a query per row: a
``CatalogReader`` answers each listing with a few set-based queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

__all__ = ["CatalogReader", "ImageSummary", "RepositorySort", "RepositorySummary"]


class RepositorySort(Enum):
    NAME = "name"
    PUSHED = "pushed"
    SIZE = "size"
    IMAGES = "images"


@dataclass(frozen=True, slots=True)
class RepositorySummary:
    """A repository with its image count, the bytes of the distinct blobs its images reference
    (a layer shared by two images counts once) and when an image was last pushed."""

    id: int
    name: str
    created_at: datetime
    tag_mutability: str
    image_count: int = 0
    total_size: int = 0
    last_pushed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ImageSummary:
    """An image as a listing shows it. ``size`` is the sum of its layers (ECR's image size); for an
    index, the largest of its platforms."""

    digest: str
    media_type: str
    artifact_type: str | None
    subject: str | None
    manifest_size: int
    size: int
    pushed_at: datetime
    last_pulled_at: datetime | None
    tags: tuple[str, ...] = ()


class CatalogReader(Protocol):
    async def repositories(
        self, *, search: str, sort: RepositorySort, descending: bool, offset: int, limit: int
    ) -> list[RepositorySummary]:
        """Repositories whose name contains ``search``, in ``sort`` order (then by name)."""

    async def repository(self, name: str) -> RepositorySummary | None: ...

    async def images(
        self, repository_id: int, *, tag: str, offset: int, limit: int
    ) -> list[ImageSummary]:
        """The repository's images, newest push first; ``tag`` keeps images with a tag holding it."""

    async def image_sizes(self, repository_id: int, digests: Sequence[str]) -> dict[str, int]:
        """The layer bytes of each of those manifests (0 for an index or a manifest not found)."""
