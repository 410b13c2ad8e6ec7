"""Garbage collection, online: blob links no manifest needs, then blobs nothing links or references.

1. A repository's link to a blob is dropped when no manifest in that repository references the
   blob and the link is older than the grace period (a push links its blobs before its manifest
   arrives; linking again, by an upload or a mount, makes a link young again).
2. Blob bytes with no row (a node died between writing them and recording them) are recorded, so
   they age like any blob and go after the grace period.
3. A blob linked nowhere and referenced by no manifest, older than the grace period, is deleted:
   its row is locked and checked again, its bytes are deleted, then its row, in one transaction.

Why pushes never lose a blob: a push holds the rows it relies on (the blob row when it records or
re-links stored bytes, the link when a manifest or a mount refers to it) until it commits, and the
collector locks a row before it checks it again. Whoever commits first wins: the collector then
sees the push's link or reference and keeps the blob, or the push finds the row gone, and with it
the bytes, and stores its own (or answers that the blob is unknown). See docs/registry.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from berth.errors import StorageError
from berth.meta.base import Blob, MetaStore
from berth.storage.base import BlobStore
from berth.types import Digest

__all__ = ["GarbageCollector", "GcReport"]

log = logging.getLogger("berth.gc")

_PAGE = 500
_PREVIEW_LIMIT = 100_000


@dataclass(slots=True)
class GcReport:
    links_dropped: int = 0
    adopted: int = 0
    removed: list[tuple[str, int]] = field(default_factory=list)
    failed: int = 0

    @property
    def removed_bytes(self) -> int:
        return sum(size for _, size in self.removed)

    def summary(self) -> str:
        return (
            f"dropped {self.links_dropped} stale link(s), recorded {self.adopted} unrecorded "
            f"blob(s), removed {len(self.removed)} blob(s) ({self.removed_bytes} bytes)"
            + (f", {self.failed} failed" if self.failed else "")
        )


class GarbageCollector:
    def __init__(
        self, meta: MetaStore, store: BlobStore, clock: Callable[[], datetime], grace: timedelta
    ) -> None:
        self.meta = meta
        self.store = store
        self.clock = clock
        self.grace = grace

    async def run(self, grace: timedelta | None = None, *, dry_run: bool = False) -> GcReport:
        """Collect now; ``grace`` overrides the configured grace period for this run.

        A dry run reports what a run would drop and remove now, and changes nothing.
        """
        cutoff = self.clock() - (self.grace if grace is None else grace)
        report = GcReport()
        if dry_run:
            return await self._preview(cutoff, report)
        await self._drop_links(cutoff, report)
        await self._record_unrecorded(report)
        await self._remove_blobs(cutoff, report)
        return report

    async def _drop_links(self, cutoff: datetime, report: GcReport) -> None:
        after: tuple[int, str] | None = None
        while True:
            async with self.meta.read() as tx:
                page = await tx.blobs.stale_links(cutoff, _PAGE, after)
            for repository_id, digest in page:
                async with self.meta.transaction() as tx:
                    report.links_dropped += await tx.blobs.drop_stale_link(
                        repository_id, digest, cutoff
                    )
            if len(page) < _PAGE:
                return
            after = page[-1]

    async def _record_unrecorded(self, report: GcReport) -> None:
        batch: list[Digest] = []
        async for digest in self.store.list_blobs():
            batch.append(digest)
            if len(batch) >= _PAGE:
                report.adopted += await self._record(batch)
                batch = []
        report.adopted += await self._record(batch)

    async def _record(self, digests: list[Digest]) -> int:
        if not digests:
            return 0
        async with self.meta.read() as tx:
            missing = await tx.blobs.missing([str(digest) for digest in digests])
        recorded = 0
        for digest in (d for d in digests if str(d) in missing):
            size = await self.store.blob_size(digest)
            if size is not None:
                async with self.meta.transaction() as tx:
                    await tx.blobs.put(str(digest), size, self.clock())
                recorded += 1
        return recorded

    async def _remove_blobs(self, cutoff: datetime, report: GcReport) -> None:
        seen: set[str] = set()
        while True:
            async with self.meta.read() as tx:
                page = [
                    b for b in await tx.blobs.unreferenced(cutoff, _PAGE) if b.digest not in seen
                ]
            for blob in page:
                seen.add(blob.digest)
                await self._remove(blob, cutoff, report)
            if not page:
                return

    async def _remove(self, candidate: Blob, cutoff: datetime, report: GcReport) -> None:
        try:
            async with self.meta.transaction() as tx:
                blob = await tx.blobs.claim_unreferenced(candidate.digest, cutoff)
                if blob is None:
                    return
                await self.store.delete_blob(Digest.parse(blob.digest))
                await tx.blobs.delete(blob.digest)
        except StorageError as error:
            report.failed += 1
            log.warning("gc: could not delete blob %s: %s", candidate.digest, error)
            return
        report.removed.append((blob.digest, blob.size))

    async def _preview(self, cutoff: datetime, report: GcReport) -> GcReport:
        """Drop the stale links in a transaction that is rolled back, to see what they free."""
        try:
            async with self.meta.transaction() as tx:
                after: tuple[int, str] | None = None
                while links := await tx.blobs.stale_links(cutoff, _PAGE, after):
                    for repository_id, digest in links:
                        report.links_dropped += await tx.blobs.drop_stale_link(
                            repository_id, digest, cutoff
                        )
                    after = links[-1]
                blobs = await tx.blobs.unreferenced(cutoff, _PREVIEW_LIMIT)
                report.removed += [(blob.digest, blob.size) for blob in blobs]
                raise _RollbackError
        except _RollbackError:
            return report


class _RollbackError(Exception):
    """Ends a dry run's transaction without committing it."""
