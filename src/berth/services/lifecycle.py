"""Lifecycle policies: keep them, preview them, and expire images on a timer, as ECR does."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from berth.domain.lifecycle import (
    Expiration,
    LifecycleImage,
    evaluate,
    parse_lifecycle_policy,
)
from berth.domain.mediatypes import INDEX_TYPES
from berth.errors import LifecyclePolicyNotFoundError, NameUnknownError
from berth.meta.base import Manifest, MetaStore, ReferenceKind, Repository, Transaction

__all__ = ["LifecyclePreview", "LifecycleService", "PreviewResult"]

log = logging.getLogger("berth.lifecycle")

_PAGE = 500
_PREVIEW_KEY = "lifecycle_preview:{}"
_EVALUATED_KEY = "lifecycle_evaluated:{}"


@dataclass(frozen=True, slots=True)
class PreviewResult:
    image_digest: str
    image_tags: tuple[str, ...]
    image_pushed_at: datetime
    applied_rule_priority: int
    action_type: str = "EXPIRE"


@dataclass(frozen=True, slots=True)
class LifecyclePreview:
    status: str
    policy_text: str
    results: list[PreviewResult]
    summary_expiring_count: int


def _owner(repository: Repository) -> str:
    """Stamps stored per repository id, so a later repository given the same id ignores them."""
    return f"{repository.name}@{repository.created_at.isoformat()}"


def _result(expiration: Expiration) -> PreviewResult:
    image = expiration.image
    return PreviewResult(image.digest, image.tags, image.pushed_at, expiration.rule_priority)


def _preview_to_json(preview: LifecyclePreview, owner: str) -> dict[str, Any]:
    results = [
        {
            "digest": r.image_digest,
            "tags": list(r.image_tags),
            "pushed_at": r.image_pushed_at.isoformat(),
            "priority": r.applied_rule_priority,
            "action": r.action_type,
        }
        for r in preview.results
    ]
    return {
        "repository": owner,
        "status": preview.status,
        "policy_text": preview.policy_text,
        "results": results,
        "expiring": preview.summary_expiring_count,
    }


def _preview_from_json(value: dict[str, Any]) -> LifecyclePreview:
    results = [
        PreviewResult(
            r["digest"],
            tuple(r["tags"]),
            datetime.fromisoformat(r["pushed_at"]),
            r["priority"],
            r["action"],
        )
        for r in value["results"]
    ]
    return LifecyclePreview(value["status"], value["policy_text"], results, value["expiring"])


async def _image(tx: Transaction, manifest: Manifest) -> LifecycleImage:
    repository_id, digest = manifest.repository_id, manifest.digest
    children: tuple[str, ...] = ()
    if manifest.media_type in INDEX_TYPES:
        references = await tx.manifests.references(repository_id, digest)
        children = tuple(r.digest for r in references if r.kind is ReferenceKind.MANIFEST)
    return LifecycleImage(
        digest=digest,
        tags=tuple(sorted(await tx.tags.for_digest(repository_id, digest))),
        pushed_at=manifest.pushed_at,
        last_pulled_at=manifest.last_pulled_at,
        size=manifest.size,
        media_type=manifest.media_type,
        artifact_type=manifest.artifact_type,
        subject=manifest.subject,
        children=children,
    )


class LifecycleService:
    """Lifecycle policy use-cases. ``registry_id`` is the account, for ECR's messages."""

    def __init__(
        self, meta: MetaStore, clock: Callable[[], datetime], registry_id: str = ""
    ) -> None:
        self.meta = meta
        self.clock = clock
        self.registry_id = registry_id

    # -- the policy -----------------------------------------------------------------------------

    async def put_policy(self, repository: Repository, text: str) -> str:
        """Validate ``text`` (InvalidParameterError with ECR's message) and store it as given."""
        parse_lifecycle_policy(text)
        async with self.meta.transaction() as tx:
            current = await self._current(tx, repository)
            await tx.repositories.update(dataclasses.replace(current, lifecycle_policy=text))
        return text

    async def get_policy(self, repository: Repository) -> str | None:
        async with self.meta.read() as tx:
            return (await self._current(tx, repository)).lifecycle_policy

    async def delete_policy(self, repository: Repository) -> str:
        """Remove the policy and return its text; LifecyclePolicyNotFoundError if there is none."""
        async with self.meta.transaction() as tx:
            current = await self._current(tx, repository)
            if current.lifecycle_policy is None:
                raise self._not_found(repository)
            await tx.repositories.update(dataclasses.replace(current, lifecycle_policy=None))
        return current.lifecycle_policy

    async def last_evaluated(self, repository: Repository) -> datetime | None:
        """When the expiry job last evaluated the repository's policy (ECR's lastEvaluatedAt)."""
        async with self.meta.read() as tx:
            owner = _owner(await self._current(tx, repository))
            stored = await tx.settings.get(_EVALUATED_KEY.format(repository.id))
        if stored is None or stored.get("repository") != owner:
            return None
        return datetime.fromisoformat(stored["at"])

    # -- preview --------------------------------------------------------------------------------

    async def preview(
        self, repository: Repository, policy_text: str | None = None
    ) -> LifecyclePreview:
        """Evaluate ``policy_text`` (or the stored policy) now, without expiring anything."""
        text = policy_text if policy_text is not None else await self.get_policy(repository)
        if text is None:
            raise self._not_found(repository)
        policy = parse_lifecycle_policy(text)
        now = self.clock()
        expirations = evaluate(policy, await self._images(repository), now)
        results = [_result(expiration) for expiration in expirations]
        preview = LifecyclePreview("COMPLETE", text, results, len(results))
        async with self.meta.transaction() as tx:
            owner = _owner(await self._current(tx, repository))
            await tx.settings.put(
                _PREVIEW_KEY.format(repository.id), _preview_to_json(preview, owner)
            )
        return preview

    async def get_preview(self, repository: Repository) -> LifecyclePreview | None:
        async with self.meta.read() as tx:
            owner = _owner(await self._current(tx, repository))
            stored = await tx.settings.get(_PREVIEW_KEY.format(repository.id))
        if stored is None or stored.get("repository") != owner:
            return None
        return _preview_from_json(stored)

    # -- the expiry job -------------------------------------------------------------------------

    async def run(self, repository: Repository | None = None) -> list[Expiration]:
        """Expire what the policies say, in one repository or in every one that has a policy.

        Over all repositories, a failure in one is logged and the others go on.
        """
        if repository is not None:
            return await self._expire(repository)
        expired: list[Expiration] = []
        for candidate in await self._with_policies():
            try:
                expired += await self._expire(candidate)
            except Exception:
                log.exception("lifecycle: expiring images in %s failed", candidate.name)
        return expired

    # -- helpers --------------------------------------------------------------------------------

    def _not_found(self, repository: Repository) -> LifecyclePolicyNotFoundError:
        return LifecyclePolicyNotFoundError(
            "Lifecycle policy does not exist for the repository with name "
            f"'{repository.name}' in the registry with id '{self.registry_id}'"
        )

    async def _current(self, tx: Transaction, repository: Repository) -> Repository:
        current = await tx.repositories.get_by_id(repository.id)
        if current is None:
            raise NameUnknownError(
                f"repository name not known to registry: {repository.name}",
                detail={"name": repository.name},
            )
        return current

    async def _images(self, repository: Repository) -> list[LifecycleImage]:
        images: list[LifecycleImage] = []
        after: str | None = None
        async with self.meta.read() as tx:
            while True:
                page = await tx.manifests.list(repository.id, after=after, limit=_PAGE)
                images += [await _image(tx, manifest) for manifest in page]
                if len(page) < _PAGE:
                    return images
                after = page[-1].digest

    async def _with_policies(self) -> list[Repository]:
        found: list[Repository] = []
        after: str | None = None
        async with self.meta.read() as tx:
            while True:
                page = await tx.repositories.list(after=after, limit=_PAGE)
                found += [r for r in page if r.lifecycle_policy is not None]
                if len(page) < _PAGE:
                    return found
                after = page[-1].name

    async def _expire(self, repository: Repository) -> list[Expiration]:
        started = self.clock()
        async with self.meta.read() as tx:
            current = await self._current(tx, repository)
        if current.lifecycle_policy is None:
            return []
        policy = parse_lifecycle_policy(current.lifecycle_policy)
        expirations = evaluate(policy, await self._images(current), started)
        done: list[Expiration] = []
        async with self.meta.transaction() as tx:
            for expiration in expirations:
                if await self._delete(tx, current.id, expiration.image, started):
                    done.append(expiration)
            stamp = {"repository": _owner(current), "at": started.isoformat()}
            await tx.settings.put(_EVALUATED_KEY.format(current.id), stamp)
        if done:
            log.info("lifecycle: expired %d image(s) in %s", len(done), current.name)
        return done

    async def _delete(
        self, tx: Transaction, repository_id: int, image: LifecycleImage, started: datetime
    ) -> bool:
        """Delete the image unless it changed since it was evaluated (pushed, tagged, indexed)."""
        manifest = await tx.manifests.get(repository_id, image.digest)
        if manifest is None or manifest.pushed_at > started:
            return False
        tags = tuple(sorted(await tx.tags.for_digest(repository_id, image.digest)))
        if tags != image.tags or await tx.manifests.is_referenced(repository_id, image.digest):
            return False
        return await tx.manifests.delete(repository_id, image.digest)
