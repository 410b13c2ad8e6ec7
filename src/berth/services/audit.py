"""The audit log: every authorization decision on a write, and every refusal, kept and listable.

Events are buffered and written in batches (at most a second late, and at shutdown), so an
audited request costs no extra database round trip on its own path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from berth.meta.base import AuditEvent, AuditFilter, MetaStore

__all__ = ["READ_PREFIXES", "AuditLog", "is_write"]

log = logging.getLogger("berth.audit")

READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "BatchCheck", "Simulate")
_BATCH = 500


def is_write(action: str) -> bool:
    """``ecr:PutImage`` is a write; ``ecr:BatchGetImage`` and ``iam:ListUsers`` are reads."""
    operation = action.partition(":")[2]
    return not operation.startswith(READ_PREFIXES)


class AuditLog:
    def __init__(self, meta: MetaStore, clock: Callable[[], datetime]) -> None:
        self.meta = meta
        self.clock = clock
        self._pending: list[AuditEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self._writing: set[asyncio.Task[None]] = set()

    def record(
        self,
        principal: str,
        action: str,
        resource: str,
        outcome: str,
        *,
        source_ip: str = "",
        request_id: str = "",
        message: str = "",
    ) -> None:
        self._pending.append(
            AuditEvent(
                self.clock(), principal, action, resource, outcome, source_ip, request_id, message
            )
        )

    async def flush(self) -> None:
        """Write what is pending; on failure the events stay pending for the next try.

        The write runs to its end even if the caller is cancelled meanwhile (a request that went
        away, the stop of the periodic flush): cut between its COMMIT and the batch leaving the
        buffer, it would write the batch twice.
        """
        writing = asyncio.ensure_future(self._flush())
        self._writing.add(writing)
        writing.add_done_callback(self._writing.discard)
        await asyncio.shield(writing)

    async def _flush(self) -> None:
        async with self._flushing:
            while self._pending:
                batch = self._pending[:_BATCH]
                async with self.meta.transaction() as tx:
                    await tx.audit.add(batch)
                del self._pending[: len(batch)]

    async def list(
        self, where: AuditFilter, before_id: int | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        await self.flush()
        async with self.meta.read() as tx:
            return await tx.audit.list(where, before_id, min(max(limit, 1), 1000))

    def start(self, interval_seconds: float = 1.0) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(interval_seconds), name="berth-audit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
        await self.flush()

    async def _run(self, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.flush()
            except Exception:  # a failed write is retried on the next tick, never lost silently
                log.exception("could not write %d audit events; will retry", len(self._pending))
