"""Background jobs, one run at a time across every node: upload expiry, lifecycle expiry, GC,
and the purge of idle failed sign-in counts.

Every node runs the scheduler. Each run first takes the job's cluster-wide lock from the metadata
store (``MetaStore.exclusive``) and is skipped if another process holds it, so a job never runs
twice at once however many nodes and workers there are. A run that fails is logged; the next one
comes an interval later. Each completed or failed run is written to the audit log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from berth.meta.base import MetaStore
from berth.services.audit import AuditLog

__all__ = ["Job", "JobObserver", "JobScheduler", "lock_name"]

log = logging.getLogger("berth.jobs")

JobObserver = Callable[[str, str, float], None]
"""Told of every attempt: the job's name, its outcome (ran, skipped, failed) and its seconds."""

LEASE_SECONDS = 60.0
"""How long a dead holder keeps a job from running on SQLite (PostgreSQL frees it at once)."""


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    interval_seconds: float
    run: Callable[[], Awaitable[str]]
    """Does the work and returns a one-line summary of it."""


def lock_name(job: str) -> str:
    """The cluster-wide lock a job's runs take (``berth gc`` takes the same one)."""
    return f"job:{job}"


def _ignore(job: str, outcome: str, seconds: float) -> None:
    return None


class JobScheduler:
    def __init__(
        self,
        meta: MetaStore,
        jobs: Sequence[Job],
        *,
        node: str,
        clock: Callable[[], datetime],
        audit: AuditLog | None = None,
        observe: JobObserver = _ignore,
    ) -> None:
        self.meta = meta
        self.jobs = {job.name: job for job in jobs}
        self.node = node
        self.clock = clock
        self.audit = audit
        self.observe = observe
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """One loop per job whose interval is above 0; each first runs one interval after start."""
        if self._tasks:
            return
        for job in self.jobs.values():
            if job.interval_seconds > 0:
                self._tasks.append(asyncio.create_task(self._loop(job), name=f"berth-{job.name}"))

    async def stop(self) -> None:
        """Cancel the loops (a run in progress is cut) and wait until they have ended."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:  # a wait, not an await of each: a cancellation of stop() itself goes on
            await asyncio.wait(tasks)

    async def run(self, name: str) -> str | None:
        """Run the job ``name`` now under its lock: its summary, or None if another process
        holds the lock. KeyError for a job the scheduler does not have."""
        job = self.jobs[name]
        async with self.meta.exclusive(lock_name(job.name), lease_seconds=LEASE_SECONDS) as held:
            if not held:
                self.observe(job.name, "skipped", 0.0)
                return None
            return await self._run_held(job)

    async def _run_held(self, job: Job) -> str:
        started, ticks = self.clock(), time.perf_counter()
        try:
            summary = await job.run()
        except Exception as error:
            self._finished(job, "failed", started, ticks, f"{type(error).__name__}: {error}")
            raise
        self._finished(job, "ran", started, ticks, summary)
        return summary

    def _finished(
        self, job: Job, outcome: str, started: datetime, ticks: float, summary: str
    ) -> None:
        seconds = time.perf_counter() - ticks
        self.observe(job.name, outcome, seconds)
        log.info("job %s %s on %s in %.3f s: %s", job.name, outcome, self.node, seconds, summary)
        if self.audit is not None:
            self.audit.record(
                f"berth:node/{self.node}",
                f"berth:{job.name}",
                job.name,
                "completed" if outcome == "ran" else "failed",
                message=f"started {started.isoformat()}; {summary}",
            )

    async def _loop(self, job: Job) -> None:
        while True:
            await asyncio.sleep(job.interval_seconds)
            try:
                await self.run(job.name)
            except Exception:  # a failed run is logged; the next one comes an interval later
                log.exception("job %s failed on %s", job.name, self.node)
