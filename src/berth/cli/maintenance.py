"""Garbage collection and lifecycle expiry, run in-process on a data directory.

``collect_garbage`` is the servers' GC job (``berth.services.gc``) under the same cluster-wide
lock: it drops repository links to blobs no manifest there references, then removes blobs linked
nowhere and referenced by nothing, once older than the grace period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from rich.progress import Progress

from berth.services.gc import GcReport
from berth.services.jobs import lock_name

if TYPE_CHECKING:
    from berth.services import Services

__all__ = ["GcBusyError", "GcReport", "LifecycleOutcome", "collect_garbage", "run_lifecycle"]

_PAGE = 500


class GcBusyError(Exception):
    """Another process is collecting garbage now."""


async def collect_garbage(
    services: Services, grace: timedelta, dry_run: bool, progress: Progress
) -> GcReport:
    task = progress.add_task("would collect" if dry_run else "collecting", total=None)
    async with services.meta.exclusive(lock_name("gc")) as held:
        if not held:
            raise GcBusyError("another Berth process is collecting garbage now; try again later")
        report = await services.gc.run(grace, dry_run=dry_run)
    progress.update(task, total=1, completed=1)
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
