"""The audit log's buffer: every event written once, whoever flushes and whenever they give up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from berth.meta.base import AuditFilter, MetaStore
from berth.services.audit import AuditLog

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def record(audit: AuditLog, count: int) -> None:
    for n in range(count):
        audit.record("arn:aws:iam::123456789012:user/ci", "ecr:PutImage", f"repo-{n}", "allowed")


async def test_a_flush_whose_caller_is_cancelled_still_writes_each_event_once(
    meta: MetaStore,
) -> None:
    """The cancellation lands while the batch's COMMIT is on its way: the write goes on, and the
    batch leaves the buffer, so the next flush does not write it again."""
    audit = AuditLog(meta, lambda: T0)
    record(audit, 3)

    async def flush_then_give_up() -> None:
        me = asyncio.current_task()
        assert me is not None
        asyncio.get_running_loop().call_soon(me.cancel)
        await audit.flush()

    caller = asyncio.create_task(flush_then_give_up())
    await asyncio.wait([caller])
    assert caller.cancelled()
    await audit.flush()
    events = await audit.list(AuditFilter())
    assert sorted(event.resource for event in events) == ["repo-0", "repo-1", "repo-2"]


async def test_stop_writes_what_is_pending_and_ends_the_periodic_flush(meta: MetaStore) -> None:
    audit = AuditLog(meta, lambda: T0)
    audit.start(interval_seconds=0.01)
    for _ in range(20):
        record(audit, 1)
        await asyncio.sleep(0.003)
    record(audit, 5)
    await audit.stop()
    assert len(await audit.list(AuditFilter())) == 25
    record(audit, 1)
    await asyncio.sleep(0.05)  # no periodic flush is left to write it
    async with meta.read() as tx:
        assert len(await tx.audit.list(AuditFilter(), None, 1000)) == 25
