"""Garbage collection and lifecycle expiry, run in-process on a data directory.

GC marks every blob a manifest references (configs and layers, in every repository), then sweeps
the blob store: a blob no manifest references, older than the grace period, is removed (its row,
its repository links, its bytes). The grace period protects blobs pushed moments ago whose
manifest has not arrived yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from rich.progress import Progress

from berth.types import Digest

if TYPE_CHECKING:
    from berth.services import Services

__all__ = ["GcReport", "LifecycleOutcome", "collect_garbage", "run_lifecycle"]

_PAGE = 500


@dataclass(slots=True)
class GcReport:
    repositories: int = 0
    manifests: int = 0
    scanned: int = 0
    referenced: int = 0
    too_young: int = 0
    unknown_age: int = 0
    removed: list[tuple[str, int]] = field(default_factory=list)

    @property
    def removed_bytes(self) -> int:
        return sum(size for _, size in self.removed)


async def _referenced(services: Services, report: GcReport, progress: Progress) -> set[str]:
    """Every blob digest a manifest references, in every repository."""
    async with services.meta.read() as tx:
        total = await tx.repositories.count()
    task = progress.add_task("marking", total=total)
    referenced: set[str] = set()
    for repository_id in await _repository_ids(services):
        report.manifests += await _mark(services, repository_id, referenced)
        report.repositories += 1
        progress.advance(task)
    return referenced


async def _repository_ids(services: Services) -> list[int]:
    ids: list[int] = []
    after: str | None = None
    async with services.meta.read() as tx:
        while True:
            page = await tx.repositories.list(after=after, limit=_PAGE)
            ids += [repository.id for repository in page]
            if len(page) < _PAGE:
                return ids
            after = page[-1].name


async def _mark(services: Services, repository_id: int, referenced: set[str]) -> int:
    count = 0
    after: str | None = None
    async with services.meta.read() as tx:
        while True:
            page = await tx.manifests.list(repository_id, after=after, limit=_PAGE)
            for manifest in page:
                count += 1
                if manifest.config_digest:
                    referenced.add(manifest.config_digest)
                for reference in await tx.manifests.references(repository_id, manifest.digest):
                    if reference.kind.value == "blob":
                        referenced.add(reference.digest)
            if len(page) < _PAGE:
                return count
            after = page[-1].digest


async def _blob_time(services: Services, digest: Digest) -> datetime | None:
    async with services.meta.read() as tx:
        row = await tx.blobs.get(str(digest))
    if row is not None:
        return row.created_at
    path = services.blobs.local_path(digest)
    if path is not None and path.exists():
        return datetime.fromtimestamp(path.stat().st_mtime, datetime.now(UTC).tzinfo)
    return None


async def _sweep_candidates(
    services: Services,
    referenced: set[str],
    cutoff: datetime,
    report: GcReport,
    progress: Progress,
) -> list[Digest]:
    task = progress.add_task("sweeping", total=None)
    candidates: list[Digest] = []
    async for digest in services.blobs.list_blobs():
        report.scanned += 1
        progress.advance(task)
        if str(digest) in referenced:
            report.referenced += 1
            continue
        created = await _blob_time(services, digest)
        if created is None:
            report.unknown_age += 1
        elif created >= cutoff:
            report.too_young += 1
        else:
            candidates.append(digest)
    progress.update(task, total=report.scanned)
    return candidates


async def collect_garbage(
    services: Services, grace: timedelta, dry_run: bool, progress: Progress
) -> GcReport:
    report = GcReport()
    referenced = await _referenced(services, report, progress)
    cutoff = datetime.now(UTC) - grace
    candidates = await _sweep_candidates(services, referenced, cutoff, report, progress)
    task = progress.add_task("would remove" if dry_run else "removing", total=len(candidates))
    for digest in candidates:
        size = await services.blobs.blob_size(digest) or 0
        if not dry_run:
            async with services.meta.transaction() as tx:
                await tx.blobs.delete(str(digest))
            await services.blobs.delete_blob(digest)
        report.removed.append((str(digest), size))
        progress.advance(task)
    return report


@dataclass(frozen=True, slots=True)
class LifecycleOutcome:
    repository: str
    images: int
    tags: tuple[str, ...]
    error: str | None = None


async def _with_policies(services: Services, name: str | None) -> list[str]:
    async with services.meta.read() as tx:
        if name is not None:
            found = await tx.repositories.get(name)
            return [found.name] if found is not None else []
        names: list[str] = []
        after: str | None = None
        while True:
            page = await tx.repositories.list(after=after, limit=_PAGE)
            names += [r.name for r in page if r.lifecycle_policy is not None]
            if len(page) < _PAGE:
                return names
            after = page[-1].name


async def run_lifecycle(
    services: Services, name: str | None, dry_run: bool, progress: Progress
) -> list[LifecycleOutcome] | None:
    """Expire images per each repository's lifecycle policy; None if ``name`` does not exist."""
    names = await _with_policies(services, name)
    if name is not None and not names:
        return None
    task = progress.add_task("lifecycle", total=len(names))
    outcomes = []
    for found in names:
        outcomes.append(await _run_one(services, found, dry_run))
        progress.advance(task)
    return outcomes


async def _run_one(services: Services, name: str, dry_run: bool) -> LifecycleOutcome:
    async with services.meta.read() as tx:
        repository = await tx.repositories.get(name)
    if repository is None or repository.lifecycle_policy is None:
        return LifecycleOutcome(name, 0, (), "no lifecycle policy")
    try:
        if dry_run:
            preview = await services.lifecycle.preview(repository)
            tags = tuple(t for r in preview.results for t in r.image_tags)
            return LifecycleOutcome(name, len(preview.results), tags)
        expired = await services.lifecycle.run(repository)
    except Exception as error:  # one repository's failure is reported, the others go on
        return LifecycleOutcome(name, 0, (), f"{type(error).__name__}: {error}")
    return LifecycleOutcome(name, len(expired), tuple(t for e in expired for t in e.image.tags))
