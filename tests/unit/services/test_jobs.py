"""The job scheduler: runs under the job's lock, skips when another holds it, reports every try."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from berth.meta.base import AuditFilter, MetaStore
from berth.services.audit import AuditLog
from berth.services.jobs import Job, JobScheduler, lock_name

T0 = datetime(2025, 1, 1, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.tries: list[tuple[str, str]] = []

    def __call__(self, job: str, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.tries.append((job, outcome))


def scheduler(meta: MetaStore, *jobs: Job, audit: AuditLog | None = None) -> JobScheduler:
    return JobScheduler(meta, jobs, node="node-a", clock=lambda: T0, audit=audit)


async def test_a_run_takes_the_lock_and_reports(meta: MetaStore) -> None:
    held_inside: list[bool] = []

    async def work() -> str:
        async with meta.exclusive(lock_name("gc")) as other:
            held_inside.append(other)
        return "did the work"

    recorder = Recorder()
    audit = AuditLog(meta, lambda: T0)
    jobs = JobScheduler(
        meta, [Job("gc", 0, work)], node="node-a", clock=lambda: T0, audit=audit, observe=recorder
    )
    assert await jobs.run("gc") == "did the work"
    assert held_inside == [False]
    assert recorder.tries == [("gc", "ran")]
    [event] = await audit.list(AuditFilter())
    assert (event.principal, event.action, event.outcome) == (
        "berth:node/node-a",
        "berth:gc",
        "completed",
    )
    assert event.message == f"started {T0.isoformat()}; did the work"


async def test_a_run_is_skipped_while_another_process_holds_the_lock(meta: MetaStore) -> None:
    ran: list[str] = []

    async def work() -> str:
        ran.append("ran")
        return ""

    recorder = Recorder()
    jobs = JobScheduler(meta, [Job("gc", 0, work)], node="a", clock=lambda: T0, observe=recorder)
    async with meta.exclusive(lock_name("gc")) as held:
        assert held
        assert await jobs.run("gc") is None
    assert ran == []
    assert recorder.tries == [("gc", "skipped")]


async def test_a_failed_run_is_reported_and_releases_the_lock(meta: MetaStore) -> None:
    async def broken() -> str:
        raise RuntimeError("storage is down")

    recorder = Recorder()
    audit = AuditLog(meta, lambda: T0)
    jobs = JobScheduler(
        meta, [Job("gc", 0, broken)], node="a", clock=lambda: T0, audit=audit, observe=recorder
    )
    with pytest.raises(RuntimeError):
        await jobs.run("gc")
    assert recorder.tries == [("gc", "failed")]
    [event] = await audit.list(AuditFilter())
    assert event.outcome == "failed" and "RuntimeError: storage is down" in event.message
    async with meta.exclusive(lock_name("gc")) as held:
        assert held


async def test_loops_run_jobs_on_their_intervals_and_zero_is_off(meta: MetaStore) -> None:
    counts = {"fast": 0, "off": 0}

    def counter(name: str) -> Job:
        async def work() -> str:
            counts[name] += 1
            if name == "fast" and counts[name] == 2:
                raise RuntimeError("one bad run does not stop the loop")
            return ""

        return Job(name, 0.01 if name == "fast" else 0, work)

    jobs = scheduler(meta, counter("fast"), counter("off"))
    jobs.start()
    jobs.start()
    try:
        for _ in range(300):
            await asyncio.sleep(0.01)
            if counts["fast"] >= 4:
                break
    finally:
        await jobs.stop()
    assert counts["fast"] >= 4
    assert counts["off"] == 0
    with pytest.raises(KeyError):
        await jobs.run("unknown")
