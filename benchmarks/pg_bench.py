"""Berth with its metadata on PostgreSQL beside Berth on SQLite and distribution, in one run.

    python benchmarks/pg_bench.py [--quick] [--repeats 3] [--out docs/performance.md]

The metadata workloads of ``run.py`` (manifest GET, HEAD and PUT rates with 32 connections; the
tag list of a repository with 10,000 tags, whole and one ``n=100`` page; ``_catalog`` of 10,000
repositories) against four servers started on 127.0.0.1: Berth on SQLite (``berth serve``, 1
worker), Berth on PostgreSQL with 1 worker and with 2 (``BERTH_DATABASE_URL``; blobs on the local
filesystem either way), and distribution. The PostgreSQL is a throwaway one on this machine
(``tests/postgres.py``, as the tests start it, but durable: ``fsync`` and synchronous commit
on, as in production; ``max_connections`` 200, since the three Berth workers on it may hold 48
each). Medians go into the PostgreSQL section of ``--out`` (between markers, the
rest of the file untouched); every sample goes to ``benchmarks/results/pg_bench.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import report
import servers
import workloads as w
from run import check_errors, expect, median_of
from seeding import seed_berth, seed_distribution

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from postgres import new_database, postgres_bindir, running_postgresql  # noqa: E402

BEGIN, END = "<!-- pg_bench:begin -->", "<!-- pg_bench:end -->"


@dataclass(frozen=True)
class Sizes:
    tags: int
    repositories: int
    rate_seconds: float


FULL = Sizes(tags=10_000, repositories=10_000, rate_seconds=8.0)
QUICK = Sizes(tags=1_000, repositories=1_000, rate_seconds=3.0)

SERVERS = (
    ("sqlite", "Berth, SQLite"),
    ("pg1", "Berth, PostgreSQL, 1 worker"),
    ("pg2", "Berth, PostgreSQL, 2 workers"),
    ("distribution", "distribution"),
)


def workload_rows(sizes: Sizes) -> list[report.Workload]:
    return [
        report.Workload("manifest GET, 32 connections", "req/s"),
        report.Workload("manifest GET p99", "ms", higher_is_better=False),
        report.Workload("manifest HEAD, 32 connections", "req/s"),
        report.Workload("manifest HEAD p99", "ms", higher_is_better=False),
        report.Workload("manifest PUT, 32 connections", "req/s"),
        report.Workload(f"tag list, {sizes.tags:,} tags, whole", "ms", higher_is_better=False),
        report.Workload(
            f"tag list, {sizes.tags:,} tags, one n=100 page", "ms", higher_is_better=False
        ),
        report.Workload(
            f"_catalog, {sizes.repositories:,} repositories", "ms", higher_is_better=False
        ),
    ]


# -- a throwaway PostgreSQL ---------------------------------------------------------------------


def _bindir() -> Path:
    found = postgres_bindir()
    if found is None:
        raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found; set BERTH_PG_BINDIR")
    return found


@contextmanager
def postgresql() -> Iterator[str]:
    """A durable PostgreSQL (``tests/postgres.py``) with an empty database; its asyncpg URL."""
    with running_postgresql(_bindir(), durable=True) as server:
        yield new_database(server)


@contextmanager
def database_url(url: str | None) -> Iterator[None]:
    """``BERTH_DATABASE_URL`` set (or unset) for the servers started meanwhile."""
    saved = os.environ.get("BERTH_DATABASE_URL")
    if url is None:
        os.environ.pop("BERTH_DATABASE_URL", None)
    else:
        os.environ["BERTH_DATABASE_URL"] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("BERTH_DATABASE_URL", None)
        else:
            os.environ["BERTH_DATABASE_URL"] = saved


# -- the run ------------------------------------------------------------------------------------


def start_all(work: Path, sizes: Sizes, url: str, targets: dict[str, w.Target]) -> None:
    """The four servers into ``targets`` as each starts (so a failure leaves them to stop), seeded
    alike; the two on PostgreSQL share its one database."""
    print(f"seeding {sizes.tags:,} images, {sizes.repositories:,} repositories", flush=True)
    for key, database, workers in (("sqlite", None, 1), ("pg1", url, 1), ("pg2", url, 2)):
        folder = work / key
        folder.mkdir()
        with database_url(database):
            if key == "pg2":  # the database pg1 was seeded and prepared in; its token works here
                server = servers.start_berth(folder, workers, download_port=False)
                targets[key] = dataclasses.replace(targets["pg1"], server=server)
                server.headers = targets["pg1"].server.headers
                continue
            seed_berth(folder / "berth-data", sizes.tags, sizes.repositories, database)
            server = servers.start_berth(folder, workers, download_port=False)
            targets[key] = w.Target(server)  # stopped on failure, even before it is prepared
            targets[key] = w.prepare(server)
    folder = work / "distribution"
    folder.mkdir()
    server = servers.start_distribution(folder)
    targets["distribution"] = w.Target(server)
    targets["distribution"] = w.prepare(server)
    digest = targets["distribution"].many_digest
    seed_distribution(folder / "distribution-data", digest, sizes.tags, sizes.repositories)


def measure(
    targets: dict[str, w.Target], sizes: Sizes, repeats: int
) -> dict[str, dict[str, list[float]]]:
    rows = workload_rows(sizes)
    samples: dict[str, dict[str, list[float]]] = {row.name: {} for row in rows}

    def record(index: int, key: str, value: float) -> None:
        samples[rows[index].name].setdefault(key, []).append(value)
        print(f"  {key:14} {rows[index].name:48} {value:12,.3f} {rows[index].unit}", flush=True)

    for repeat in range(repeats):
        print(f"repeat {repeat + 1} of {repeats}", flush=True)
        for key, target in targets.items():
            for index, method in ((0, "GET"), (2, "HEAD")):
                w.manifest_rate(target, method, 1.0)
                rate = w.manifest_rate(target, method, sizes.rate_seconds)
                check_errors(rate, f"{key} manifest {method}")
                record(index, key, rate.requests_per_second)
                record(index + 1, key, rate.p99_ms)
            rate = w.put_rate(target, sizes.rate_seconds)
            check_errors(rate, f"{key} manifest PUT")
            record(4, key, rate.requests_per_second)
        for key, target in targets.items():
            seconds, items, _ = median_of(5, lambda t=target: w.list_tags(t, None))  # type: ignore[misc]
            expect(items, sizes.tags, f"{key} tags")
            record(5, key, seconds * 1000)
            if key != "distribution":  # distribution 2.8 ignores n
                record(6, key, w.tag_page_ms(target, 100, sizes.tags // 2))
            seconds, items, _ = median_of(5, lambda t=target: w.catalog(t, 1000))  # type: ignore[misc]
            expect(items, sizes.repositories, f"{key} catalog")
            record(7, key, seconds * 1000)
    return samples


# -- the report ---------------------------------------------------------------------------------


def section(results: dict[str, Any], sizes: Sizes) -> str:
    samples: dict[str, dict[str, list[float]]] = results["samples"]
    names = dict(SERVERS)
    header = " | ".join(names[key] for key, _ in SERVERS)
    lines = [
        "## Metadata on PostgreSQL",
        "",
        f"Measured {results['date']} on {results['machine']}; PostgreSQL {results['postgresql']} "
        "on the same machine (durable: `fsync` and synchronous commit on); medians of "
        f"{results['repeats']}. The two Berth servers on PostgreSQL share one database, as the "
        "nodes of a cluster do; blobs stay on the local filesystem, no download port.",
        "",
        "```",
        results["command"],
        "```",
        "",
        f"| workload | unit | {header} | PostgreSQL 1 worker / distribution |",
        "| --- | --- |" + " ---: |" * (len(SERVERS) + 1),
    ]
    for row in workload_rows(sizes):
        found = samples.get(row.name, {})
        medians = {key: report.median(found.get(key, [])) for key, _ in SERVERS}
        cells = " | ".join(report.cell(medians[key]) for key, _ in SERVERS)
        against = report.ratio(row, medians["pg1"], medians["distribution"])
        better = "higher" if row.higher_is_better else "lower"
        lines.append(
            f"| {row.name} | {row.unit} ({better} is better) | {cells} | "
            f"{report.cell(against, 2)} |"
        )
    lines += [
        "",
        f"Every sample: `{results['json']}`.",
    ]
    return "\n".join(lines)


def postgresql_version() -> str:
    found = subprocess.run(
        [str(_bindir() / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    version = re.search(r"\(PostgreSQL\) (\S+)", found.stdout)
    return version.group(1) if version else "unknown"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 tags and repositories")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each workload")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "performance.md")
    parser.add_argument(
        "--json", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "pg_bench.json"
    )
    parser.add_argument("--work-dir", type=Path, help="where registry data goes (tmp)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    with (
        tempfile.TemporaryDirectory(prefix="berth-pg-bench-", dir=args.work_dir) as temporary,
        postgresql() as url,
    ):
        targets: dict[str, w.Target] = {}
        try:
            start_all(Path(temporary), sizes, url, targets)
            samples = measure(targets, sizes, args.repeats)
        finally:
            for target in targets.values():
                target.server.stop()
    json_path = args.json.resolve()
    results: dict[str, Any] = {
        "command": shlex.join(["python", "benchmarks/pg_bench.py", *argv]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": report.machine(),
        "postgresql": postgresql_version(),
        "repeats": args.repeats,
        "json": str(json_path.relative_to(REPO_ROOT))
        if json_path.is_relative_to(REPO_ROOT)
        else str(json_path),
        "samples": samples,
    }
    report.write_json(args.json, results)
    report.write_section(args.out, section(results, sizes), BEGIN, END)
    for row in workload_rows(sizes):
        medians = {key: report.median(samples[row.name].get(key, [])) for key, _ in SERVERS}
        print(row.name, {key: report.cell(value) for key, value in medians.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
