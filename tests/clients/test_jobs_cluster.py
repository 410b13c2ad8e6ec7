"""Two `berth serve` processes on one PostgreSQL never run the same background job at once.

Every job run is written to the audit log with its start and end; the test reads the runs back
from the database and checks that no two runs of a job overlap, that both nodes ran jobs, and
that while the test itself holds the GC job's advisory lock neither node starts a GC run.
"""

from __future__ import annotations

import base64
import itertools
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from berth.meta.sql_locks import lock_key
from berth.services.jobs import lock_name

from .conftest import RegistryServer

pytestmark = [pytest.mark.clients, pytest.mark.postgres]

Run = tuple[str, datetime, datetime]
"""(node, started, finished)"""


@pytest.fixture
def nodes(tmp_path: Path, postgresql_url: str) -> Iterator[list[RegistryServer]]:
    env = {
        "BERTH_DATABASE_URL": postgresql_url,
        "BERTH_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "BERTH_STORAGE_PATH": str(tmp_path / "blobs"),
        "BERTH_GC_INTERVAL_SECONDS": "0.2",
        "BERTH_UPLOAD_EXPIRY_INTERVAL_SECONDS": "0.3",
        "BERTH_LIFECYCLE_INTERVAL_SECONDS": "0.25",
    }
    servers = [RegistryServer("berth", tmp_path / f"node-{n}", tmp_path, env=env) for n in range(2)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database,
        autocommit=True,
    )  # fmt: skip


def job_runs(url: str) -> dict[str, list[Run]]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT action, principal, at, message FROM audit_events"
            " WHERE action LIKE 'berth:%' AND outcome = 'completed'"
        ).fetchall()
    runs: dict[str, list[Run]] = defaultdict(list)
    for action, principal, finished, message in rows:
        started = datetime.fromisoformat(str(message).split(";", 1)[0].removeprefix("started "))
        assert isinstance(finished, datetime)
        runs[str(action)].append((str(principal), started, finished))
    return runs


def assert_never_overlapping(runs: list[Run]) -> None:
    ordered = sorted(runs, key=lambda run: run[1])
    for before, after in itertools.pairwise(ordered):
        assert after[1] >= before[2], f"two runs overlap: {before} and {after}"


def skipped(server: RegistryServer, job: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    line = f'berth_job_runs_total{{job="{job}",outcome="skipped"}} '
    found = [row for row in text.splitlines() if row.startswith(line)]
    return float(found[0].removeprefix(line)) if found else 0.0


def test_two_nodes_take_turns_and_respect_the_lock(
    nodes: list[RegistryServer], postgresql_url: str
) -> None:
    time.sleep(4)
    runs = job_runs(postgresql_url)
    for job in ("berth:gc", "berth:upload-expiry", "berth:lifecycle"):
        assert len(runs[job]) >= 5, (job, runs[job])
        assert_never_overlapping(runs[job])
    assert len({node for job in runs.values() for node, _, _ in job}) == 2

    with connect(postgresql_url) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key(lock_name("gc")),))
        held_from = datetime.now(UTC)
        time.sleep(2)
        held_until = datetime.now(UTC)
        holder.execute("SELECT pg_advisory_unlock(%s)", (lock_key(lock_name("gc")),))
    time.sleep(2.5)

    runs = job_runs(postgresql_url)
    during = [run for run in runs["berth:gc"] if held_from <= run[1] <= held_until]
    assert during == [], "a node ran GC while another process held its lock"
    assert any(run[1] > held_until for run in runs["berth:gc"]), "GC never ran again"
    assert any(held_from <= run[1] <= held_until for run in runs["berth:upload-expiry"])
    for job in runs.values():
        assert_never_overlapping(job)
    assert sum(skipped(node, "gc") for node in nodes) >= 5
