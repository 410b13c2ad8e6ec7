"""Images: manifests and indexes (stored byte for byte), tags, referrers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from berth.domain.manifests import ParsedManifest, parse_manifest
from berth.domain.mediatypes import OCI_INDEX
from berth.domain.tags import tag_is_mutable
from berth.errors import (
    DigestInvalidError,
    ImageTagAlreadyExistsError,
    ManifestBlobUnknownError,
    ManifestUnknownError,
)
from berth.meta.base import Manifest, MetaStore, Reference, ReferenceKind, Repository, Transaction
from berth.meta.cache import ReadCache
from berth.types import Digest, Tag

__all__ = ["ImageService"]

PULL_RECORD_INTERVAL = timedelta(hours=1)
_TAG_LISTS = 256
"""Tag lists kept (each may be long), against 10,000 entries for single lookups."""


def _unknown(reference: Tag | Digest) -> ManifestUnknownError:
    return ManifestUnknownError(
        f"manifest unknown: {reference}", detail={"reference": str(reference)[:200]}
    )


def _references(parsed: ParsedManifest) -> list[Reference]:
    blobs = [Reference(str(d.digest), ReferenceKind.BLOB, d.size) for d in parsed.blobs]
    children = [Reference(str(d.digest), ReferenceKind.MANIFEST, d.size) for d in parsed.manifests]
    return blobs + children


def _is_mutable(repository: Repository, tag: str) -> bool:
    return tag_is_mutable(repository.tag_mutability, repository.tag_mutability_exclusions, tag)


class ImageService:
    def __init__(
        self, meta: MetaStore, clock: Callable[[], datetime], max_manifest_bytes: int
    ) -> None:
        self.meta = meta
        self.clock = clock
        self.max_manifest_bytes = max_manifest_bytes
        self._resolved: ReadCache[Manifest] = ReadCache(meta, ("manifests", "tags"))
        self._tags: ReadCache[list[str]] = ReadCache(meta, ("tags",), limit=_TAG_LISTS)

    async def resolve(self, repository: Repository, reference: Tag | Digest) -> Manifest:
        key = (repository.id, str(reference))
        manifest = await self._resolved.get(key, lambda: self._read(repository, reference))
        if manifest is None:
            raise _unknown(reference)
        return manifest

    async def _read(self, repository: Repository, reference: Tag | Digest) -> Manifest | None:
        async with self.meta.read() as tx:
            return await self._resolve(tx, repository, reference)

    async def pull(self, repository: Repository, reference: Tag | Digest) -> Manifest:
        """Resolve for a download, recording the pull time now and then (as ECR does)."""
        manifest = await self.resolve(repository, reference)
        now = self.clock()
        last = manifest.last_pulled_at
        if last is None or now - last >= PULL_RECORD_INTERVAL:
            async with self.meta.transaction() as tx:
                await tx.manifests.mark_pulled(repository.id, manifest.digest, now)
        return manifest

    async def put(
        self, repository: Repository, reference: Tag | Digest, body: bytes, content_type: str | None
    ) -> Manifest:
        digest, parsed = self.validate(reference, body, content_type)
        manifest = Manifest(
            repository_id=repository.id,
            digest=str(digest),
            media_type=parsed.media_type,
            size=len(body),
            body=body,
            pushed_at=self.clock(),
            artifact_type=parsed.effective_artifact_type,
            subject=None if parsed.subject is None else str(parsed.subject.digest),
            config_digest=None if parsed.config is None else str(parsed.config.digest),
            annotations=parsed.annotations,
        )
        async with self.meta.transaction() as tx:
            await self._check_references(tx, repository, parsed)
            await tx.manifests.put(manifest, _references(parsed))
            if isinstance(reference, str):
                await self._tag(tx, repository, reference, manifest.digest)
        return manifest

    def validate(
        self, reference: Tag | Digest, body: bytes, content_type: str | None
    ) -> tuple[Digest, ParsedManifest]:
        """The manifest's digest and parsed form, or the error a push of it would get."""
        algorithm = reference.algorithm if isinstance(reference, Digest) else "sha256"
        digest = Digest.of(body, algorithm)
        if isinstance(reference, Digest) and digest != reference:
            raise DigestInvalidError(
                f"manifest digest {digest} does not match the reference {reference}",
                detail={"expected": str(reference), "actual": str(digest)},
            )
        return digest, parse_manifest(body, content_type, self.max_manifest_bytes)

    async def delete(self, repository: Repository, reference: Tag | Digest) -> None:
        async with self.meta.transaction() as tx:
            if isinstance(reference, Digest):
                found = await tx.manifests.delete(repository.id, str(reference))
            else:
                found = await tx.tags.delete(repository.id, reference)
        if not found:
            raise _unknown(reference)

    async def tags(self, repository: Repository, after: str | None, limit: int | None) -> list[str]:
        """Tag names in order (a copy: callers may trim it)."""
        key = (repository.id, after, limit)
        found = await self._tags.get(key, lambda: self._list_tags(repository.id, after, limit))
        return list(found or ())

    async def _list_tags(
        self, repository_id: int, after: str | None, limit: int | None
    ) -> list[str]:
        async with self.meta.read() as tx:
            return await tx.tags.list(repository_id, after=after, limit=limit)

    async def referrers(
        self, repository: Repository, subject: Digest, artifact_type: str | None
    ) -> bytes:
        """The OCI image index of manifests whose subject is ``subject``."""
        async with self.meta.read() as tx:
            found = await tx.manifests.referrers(repository.id, str(subject), artifact_type)
        descriptors = []
        for manifest in found:
            descriptor: dict[str, object] = {
                "mediaType": manifest.media_type,
                "digest": manifest.digest,
                "size": manifest.size,
            }
            if manifest.artifact_type:
                descriptor["artifactType"] = manifest.artifact_type
            if manifest.annotations:
                descriptor["annotations"] = dict(manifest.annotations)
            descriptors.append(descriptor)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
        return json.dumps(index, separators=(",", ":")).encode()

    async def _resolve(
        self, tx: Transaction, repository: Repository, reference: Tag | Digest
    ) -> Manifest | None:
        if isinstance(reference, Digest):
            return await tx.manifests.get(repository.id, str(reference))
        tag = await tx.tags.get(repository.id, reference)
        return None if tag is None else await tx.manifests.get(repository.id, tag.digest)

    async def _check_references(
        self, tx: Transaction, repository: Repository, parsed: ParsedManifest
    ) -> None:
        wanted = [str(descriptor.digest) for descriptor in parsed.blobs]
        found = await tx.blobs.pin_all_linked(repository.id, wanted)
        for descriptor in parsed.blobs:
            if str(descriptor.digest) not in found:
                raise ManifestBlobUnknownError(
                    f"blob unknown to registry: {descriptor.digest}",
                    detail={"digest": str(descriptor.digest)},
                )
        for descriptor in parsed.manifests:
            if await tx.manifests.get(repository.id, str(descriptor.digest)) is None:
                raise ManifestBlobUnknownError(
                    f"manifest unknown to registry: {descriptor.digest}",
                    detail={"digest": str(descriptor.digest)},
                )

    async def _tag(self, tx: Transaction, repository: Repository, tag: str, digest: str) -> None:
        if not _is_mutable(repository, tag):
            current = await tx.tags.get(repository.id, tag)
            if current is not None and current.digest != digest:
                raise ImageTagAlreadyExistsError(
                    f"The image tag '{tag}' already exists in the '{repository.name}' repository "
                    "and cannot be overwritten because the repository is immutable."
                )
        await tx.tags.put(repository.id, tag, digest, self.clock())
