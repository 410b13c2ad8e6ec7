"""Upload expiry: sessions idle too long are discarded, and so is upload storage nothing owns.

A session's row goes first (only if it is still idle), then its bytes. Storage with no row is an
orphan once it has not been written for the same idle time: a node that died between writing an
upload's storage and its row, or between deleting the row and the bytes. S3 multipart uploads a
dying commit left at a blob key go after that time too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from berth.errors import StorageError
from berth.meta.base import MetaStore, Upload
from berth.services.telemetry import NoTelemetry, Telemetry
from berth.storage.base import BlobStore, StoredUpload, UploadState

__all__ = ["UploadExpiry", "UploadExpiryReport"]

log = logging.getLogger("berth.uploads")

_PAGE = 500


@dataclass(slots=True)
class UploadExpiryReport:
    sessions: int = 0
    orphans: int = 0
    incomplete: int = 0

    def summary(self) -> str:
        return (
            f"expired {self.sessions} idle upload session(s), {self.orphans} orphaned upload(s), "
            f"{self.incomplete} unfinished multipart upload(s)"
        )


class UploadExpiry:
    def __init__(
        self,
        meta: MetaStore,
        store: BlobStore,
        clock: Callable[[], datetime],
        idle: timedelta,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.meta = meta
        self.store = store
        self.clock = clock
        self.idle = idle
        self.telemetry = telemetry or NoTelemetry()

    async def run(self) -> UploadExpiryReport:
        cutoff = self.clock() - self.idle
        report = UploadExpiryReport()
        report.sessions = await self._expire_sessions(cutoff)
        if report.sessions:
            self.telemetry.upload_finished("expired", report.sessions)
        report.orphans = await self._expire_orphans(cutoff)
        report.incomplete = await self.store.purge_incomplete(cutoff)
        return report

    async def _expire_sessions(self, cutoff: datetime) -> int:
        expired, seen = 0, set[str]()
        while True:
            async with self.meta.read() as tx:
                page = [u for u in await tx.uploads.expired(cutoff, _PAGE) if u.id not in seen]
            for upload in page:
                seen.add(upload.id)
                expired += await self._expire_session(upload, cutoff)
            if not page:
                return expired

    async def _expire_session(self, upload: Upload, cutoff: datetime) -> int:
        async with self.meta.transaction() as tx:
            if not await tx.uploads.delete_if_idle(upload.id, cutoff):
                return 0
        try:
            await self.store.abort_upload(upload.id, UploadState(upload.size, upload.backend))
        except StorageError:
            log.warning("could not discard the bytes of upload %s; they expire later", upload.id)
        return 1

    async def _expire_orphans(self, cutoff: datetime) -> int:
        expired, batch = 0, list[StoredUpload]()
        async for stored in self.store.list_uploads():
            if stored.modified < cutoff:
                batch.append(stored)
            if len(batch) >= _PAGE:
                expired += await self._discard_orphans(batch)
                batch = []
        return expired + await self._discard_orphans(batch)

    async def _discard_orphans(self, batch: list[StoredUpload]) -> int:
        if not batch:
            return 0
        async with self.meta.read() as tx:
            owned = await tx.uploads.existing([stored.upload_id for stored in batch])
        orphans = [stored.upload_id for stored in batch if stored.upload_id not in owned]
        for upload_id in orphans:
            await self.store.abort_upload(upload_id, UploadState())
        return len(orphans)
