"""Images as the ECR API sees them: image ids (digest + tag), details with sizes, ECR's delete
and put rules. The bytes and tags are the registry's own; only the view and the rules differ.

ECR's rules kept here: removing an image's last tag deletes the image; an image an index
references cannot be deleted by digest; ``PutImage`` that changes nothing is
``ImageAlreadyExistsException``; an image's size is the sum of its layers' sizes, and an index's
the largest of its images'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from berth.domain.manifests import parse_manifest
from berth.domain.mediatypes import INDEX_TYPES
from berth.errors import (
    BerthError,
    ImageAlreadyExistsError,
    ImageDigestDoesNotMatchError,
)
from berth.meta.base import Manifest, MetaStore, ReferenceKind, Repository, Transaction
from berth.services.images import ImageService
from berth.types import Digest, Tag

__all__ = [
    "EcrImageService",
    "ImageDetails",
    "ImageId",
    "ImageIdError",
    "ImageListing",
    "TagStatus",
]

TagStatus = str
"""``TAGGED``, ``UNTAGGED`` or ``ANY``."""

_BATCH = 500


@dataclass(frozen=True, slots=True)
class ImageId:
    digest: str
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class ImageDetails:
    manifest: Manifest
    tags: tuple[str, ...]
    size: int


@dataclass(frozen=True, slots=True)
class ImageListing:
    ids: list[ImageId]
    more: bool


class ImageIdError(Exception):
    """One image id of a batch that cannot be served: ECR's failure code and reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _wanted(status: TagStatus, tagged: bool) -> bool:
    return status == "ANY" or (status == "TAGGED") == tagged


def _ids_of(manifest: Manifest, tags: list[str], status: TagStatus) -> list[ImageId]:
    if tags:
        return [ImageId(manifest.digest, tag) for tag in tags] if _wanted(status, True) else []
    return [ImageId(manifest.digest)] if _wanted(status, False) else []


def _layer_size(manifest: Manifest) -> int:
    try:
        parsed = parse_manifest(manifest.body, manifest.media_type, len(manifest.body))
    except BerthError:
        return 0
    return sum(layer.size for layer in parsed.layers)


def _parse_digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except BerthError:
        raise ImageIdError(
            "InvalidImageDigest",
            "Invalid request parameters: image digest should satisfy the regex "
            "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
        ) from None


def _parse_tag(text: str) -> Tag:
    try:
        return Tag(text)
    except BerthError:
        raise ImageIdError("InvalidImageTag", f"Invalid image tag '{text[:300]}'") from None


class EcrImageService:
    def __init__(
        self, meta: MetaStore, images: ImageService, clock: Callable[[], datetime], registry_id: str
    ) -> None:
        self.meta = meta
        self.images = images
        self.clock = clock
        self.registry_id = registry_id

    async def list_ids(
        self, repository: Repository, status: TagStatus, after: ImageId | None, limit: int
    ) -> ImageListing:
        """Image ids in (digest, tag) order, after the cursor; ``more`` if the page is full."""
        ids: list[ImageId] = []
        async with self.meta.read() as tx:
            if after is not None:
                current = await tx.manifests.get(repository.id, after.digest)
                if current is not None and after.tag is not None:
                    tags = await tx.tags.for_digest(repository.id, after.digest)
                    rest = sorted(t for t in tags if t > after.tag)
                    ids += [ImageId(after.digest, t) for t in rest if _wanted(status, True)]
            cursor = None if after is None else after.digest
            while len(ids) <= limit:
                batch = await tx.manifests.list(repository.id, after=cursor, limit=_BATCH)
                tagged = await tx.tags.for_digests(repository.id, [m.digest for m in batch])
                for manifest in batch:
                    ids += _ids_of(manifest, tagged[manifest.digest], status)
                if len(batch) < _BATCH:
                    break
                cursor = batch[-1].digest
        return ImageListing(ids[:limit], len(ids) > limit)

    async def list_details(
        self, repository: Repository, status: TagStatus, after: str | None, limit: int
    ) -> tuple[list[ImageDetails], bool]:
        """Details of images in digest order after ``after``; True if there are more."""
        found: list[ImageDetails] = []
        async with self.meta.read() as tx:
            cursor = after
            while len(found) <= limit:
                batch = await tx.manifests.list(repository.id, after=cursor, limit=_BATCH)
                tagged = await tx.tags.for_digests(repository.id, [m.digest for m in batch])
                for manifest in batch:
                    tags = tagged[manifest.digest]
                    if _wanted(status, bool(tags)):
                        found.append(await self._details(tx, manifest, tags))
                if len(batch) < _BATCH:
                    break
                cursor = batch[-1].digest
        return found[:limit], len(found) > limit

    async def details(self, repository: Repository, manifest: Manifest) -> ImageDetails:
        async with self.meta.read() as tx:
            tags = sorted(await tx.tags.for_digest(repository.id, manifest.digest))
            return await self._details(tx, manifest, tags)

    async def find(self, repository: Repository, digest: str | None, tag: str | None) -> Manifest:
        """The image an ECR image id names; ImageIdError with ECR's failure code if none."""
        async with self.meta.read() as tx:
            return await self._find(tx, repository, digest, tag)

    async def delete(
        self, repository: Repository, digest: str | None, tag: str | None
    ) -> list[ImageId]:
        """Delete by digest (the image and its tags) or by tag (the image goes with its last tag)."""
        async with self.meta.transaction() as tx:
            manifest = await self._find(tx, repository, digest, tag)
            tags = sorted(await tx.tags.for_digest(repository.id, manifest.digest))
            if tag is not None:
                await tx.tags.delete(repository.id, tag)
                if len(tags) == 1 and not await tx.manifests.is_referenced(
                    repository.id, manifest.digest
                ):
                    await tx.manifests.delete(repository.id, manifest.digest)
                return [ImageId(manifest.digest, tag)]
            if await tx.manifests.is_referenced(repository.id, manifest.digest):
                raise ImageIdError(
                    "ImageReferencedByManifestList",
                    f"Requested image referenced by manifest list: [{manifest.digest}]",
                )
            await tx.manifests.delete(repository.id, manifest.digest)
        return [ImageId(manifest.digest, t) for t in tags] or [ImageId(manifest.digest)]

    async def put(
        self,
        repository: Repository,
        body: bytes,
        media_type: str | None,
        tag: str | None,
        digest: str | None,
    ) -> Manifest:
        """``PutImage``: the registry's put, refusing a put that changes nothing, as ECR does."""
        expected = None if digest is None else Digest.parse(digest)
        actual = Digest.of(body, "sha256" if expected is None else expected.algorithm)
        if expected is not None and actual != expected:
            raise ImageDigestDoesNotMatchError(
                f"The image digest '{expected}' does not match the digest of the image "
                f"manifest '{actual}'"
            )
        if tag is not None:
            Tag(tag)
        await self._refuse_unchanged(repository, str(actual), tag)
        reference: Tag | Digest = actual if tag is None else Tag(tag)
        return await self.images.put(repository, reference, body, media_type)

    async def _refuse_unchanged(self, repository: Repository, digest: str, tag: str | None) -> None:
        async with self.meta.read() as tx:
            existing = await tx.manifests.get(repository.id, digest)
            current = None if tag is None else await tx.tags.get(repository.id, tag)
        unchanged = tag is None or (current is not None and current.digest == digest)
        if existing is not None and unchanged:
            raise ImageAlreadyExistsError(
                f"Image with digest '{digest}' and tag '{tag}' already exists in the repository "
                f"with name '{repository.name}' in registry with id '{self.registry_id}'"
            )

    async def _find(
        self, tx: Transaction, repository: Repository, digest: str | None, tag: str | None
    ) -> Manifest:
        if digest is None and tag is None:
            raise ImageIdError(
                "MissingDigestAndTag",
                "Invalid request parameters: both tag and digest cannot be null",
            )
        parsed_digest = None if digest is None else str(_parse_digest(digest))
        if tag is not None:
            found = await tx.tags.get(repository.id, str(_parse_tag(tag)))
            if found is None:
                raise ImageIdError("ImageNotFound", "Requested image not found")
            if parsed_digest is not None and found.digest != parsed_digest:
                raise ImageIdError(
                    "ImageTagDoesNotMatchDigest",
                    "Invalid request parameters: given tag does not map to the given digest",
                )
            parsed_digest = found.digest
        assert parsed_digest is not None
        manifest = await tx.manifests.get(repository.id, parsed_digest)
        if manifest is None:
            raise ImageIdError("ImageNotFound", "Requested image not found")
        return manifest

    async def _details(self, tx: Transaction, manifest: Manifest, tags: list[str]) -> ImageDetails:
        if manifest.media_type not in INDEX_TYPES:
            return ImageDetails(manifest, tuple(tags), _layer_size(manifest))
        sizes = [0]
        for reference in await tx.manifests.references(manifest.repository_id, manifest.digest):
            if reference.kind is ReferenceKind.MANIFEST:
                child = await tx.manifests.get(manifest.repository_id, reference.digest)
                if child is not None:
                    sizes.append(_layer_size(child))
        return ImageDetails(manifest, tuple(tags), max(sizes))

    async def referrers(
        self, repository: Repository, subject: str, artifact_types: list[str]
    ) -> list[Manifest]:
        """Manifests whose subject is ``subject`` (of the given artifact types), in digest order."""
        async with self.meta.read() as tx:
            found = await tx.manifests.referrers(repository.id, subject)
        wanted = set(artifact_types)
        chosen = [m for m in found if not wanted or m.artifact_type in wanted]
        return sorted(chosen, key=lambda manifest: manifest.digest)
