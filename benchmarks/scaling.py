"""How each figure grows with the work, Berth beside distribution in one run: push and pull time
against blob size, tag-list time against tag count, manifest GET rate against the number of
repositories, and each registry's memory through a 5 GiB push and pull.

    python benchmarks/scaling.py [--quick] [--repeats 3] [--berth-workers 1]

See benchmarks/README.md; `make bench-scaling` runs it as docs/performance.md shows it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import report
import servers
import workloads as w
from blobs import MIB, REPOSITORY, BlobFile, Client, pull, push_chunked, push_monolithic, timed
from report import Workload
from run import MB, REPO_ROOT, check_errors, expect
from scaling_report import (
    GET,
    GET_P99,
    PULL,
    PUSH,
    TAGS_AGAIN,
    TAGS_FIRST,
    chart,
    render,
    size_label,
)
from seeding import repository_name, seed_berth_bulk, seed_distribution, tag_name

BEGIN, END = "<!-- scaling:begin -->", "<!-- scaling:end -->"
CHUNK = 16 * MIB
Push = Callable[[Client, BlobFile, int], None]


@dataclass(frozen=True)
class Levels:
    blob_mib: tuple[int, ...]
    tags: tuple[int, ...]
    repositories: tuple[int, ...]
    memory_mib: int
    rate_seconds: float


FULL = Levels(blob_mib=(64, 256, 1024, 4096), tags=(1_000, 10_000, 100_000),
              repositories=(10, 1_000, 100_000), memory_mib=5120, rate_seconds=8.0)  # fmt: skip
QUICK = Levels(blob_mib=(16, 64), tags=(100, 1_000), repositories=(10, 100), memory_mib=128,
               rate_seconds=2.0)  # fmt: skip


def tag_repository(count: int) -> str:
    return f"bench/tags{count}"


@dataclass
class Scaling:
    """One run: its levels, work folder, and every sample taken."""

    levels: Levels
    work: Path
    repeats: int
    workers: int
    samples: dict[str, dict[str, dict[int, list[float]]]] = field(default_factory=dict)
    memory: list[dict[str, object]] = field(default_factory=list)
    notes: dict[str, object] = field(default_factory=dict)

    def add(self, workload: Workload, registry: str, level: int, value: float) -> None:
        by_level = self.samples.setdefault(workload.name, {}).setdefault(registry, {})
        by_level.setdefault(level, []).append(value)
        line = f"  {registry:12} {workload.name:30} {level:>9,} {value:12,.4g} {workload.unit}"
        print(line, flush=True)

    def median(self, workload: Workload, registry: str, level: int) -> float | None:
        return report.median(self.samples.get(workload.name, {}).get(registry, {}).get(level, []))


# -- starting and seeding ----------------------------------------------------------------------


def start_pair(
    folder: Path, workers: int, tagged: dict[str, int], repositories: int
) -> list[w.Target]:
    """Berth (seeded before it starts) and distribution (seeded once it holds an image), both
    prepared as ``make bench`` prepares them; each seeded repository in ``tagged`` gets that many
    tags, and ``repositories`` empty repositories ``bench/catalog/r...`` exist."""
    print(f"seeding: {tagged or 'no tags'}, {repositories:,} repositories", flush=True)
    seed_berth_bulk(folder / "berth-data", tagged, repositories)
    started: list[servers.Server] = []
    try:
        started.append(servers.start_berth(folder, workers))
        berth = w.prepare(started[-1])
        started.append(servers.start_distribution(folder))
        distribution = w.prepare(started[-1])
        data = folder / "distribution-data"
        seed_distribution(data, distribution.many_digest, 0, repositories)
        for name, count in tagged.items():
            seed_distribution(data, push_image(distribution, name, tag_name(0)), count, 0, name)
    except BaseException:
        for server in started:
            server.stop()
        raise
    return [berth, distribution]


def push_image(target: w.Target, repository: str, tag: str) -> str:
    client = Client(target.server.port, target.server.headers)
    try:
        digest, _ = w.push_image(client, repository, tag)
    finally:
        client.close()
    return digest


def stop(targets: list[w.Target]) -> None:
    for target in targets:
        target.server.stop()


def remove_blob(server: servers.Server, digest: str) -> None:
    """Delete a pushed blob's bytes from the registry's folder: the disk is not endless."""
    hex_digest = digest.split(":")[1]
    if server.name == "berth":
        path = server.data / "blobs" / "sha256" / hex_digest[:2] / hex_digest
    else:
        blobs = server.data / "docker" / "registry" / "v2" / "blobs" / "sha256"
        path = blobs / hex_digest[:2] / hex_digest / "data"
    path.unlink()


# -- workloads -----------------------------------------------------------------------------------


def timed_push(server: servers.Server, blob: BlobFile, push: Push) -> float:
    client = Client(server.port, server.headers)
    try:
        return timed(lambda: push(client, blob, CHUNK))
    finally:
        client.close()


def timed_pull(server: servers.Server, blob: BlobFile) -> float:
    path = f"/v2/{REPOSITORY}/blobs/{blob.digest}"
    return timed(lambda: pull(server.port, server.headers, path, blob.size, 1))


def ordered(levels: tuple[int, ...], repeat: int) -> tuple[int, ...]:
    """Smallest first in the 1st, 3rd... repeat, largest first in the others: drift spreads."""
    return levels if repeat % 2 == 0 else levels[::-1]


def announce(what: str, repeat: int, repeats: int) -> None:
    print(f"{what}, repeat {repeat + 1} of {repeats}", flush=True)


def blob_levels(run: Scaling, targets: list[w.Target]) -> None:
    """Every size in every repeat; each push is a blob never pushed before, removed after its pull."""
    sizes = run.levels.blob_mib
    blobs = {mib: BlobFile(run.work / f"blob-{mib}.bin", mib * MIB) for mib in sizes}
    try:
        for repeat in range(run.repeats):
            for mib in ordered(sizes, repeat):
                announce(f"blob {size_label(mib)}", repeat, run.repeats)
                for target in targets:
                    push_then_pull(run, target.server, blobs[mib], f"{mib}-{repeat}")
    finally:
        for blob in blobs.values():
            blob.path.unlink()


def push_then_pull(run: Scaling, server: servers.Server, blob: BlobFile, label: str) -> None:
    mib = blob.size // MIB
    blob.make_variant(f"{server.name}-{label}")
    os.sync()
    run.add(PUSH, server.name, mib, timed_push(server, blob, push_monolithic))
    run.add(PULL, server.name, mib, timed_pull(server, blob))
    remove_blob(server, blob.digest)


def write_elsewhere(target: w.Target, tag: str) -> None:
    """A tagged manifest PUT in another repository: after a write to the tags table, Berth's
    cached tag lists are read from the database again."""
    body = target.put_template.replace("%d-%d", tag).encode()
    client = Client(target.server.port, target.server.headers)
    try:
        headers = {"Content-Type": w.MANIFEST_TYPE}
        client.call("PUT", f"/v2/{w.PUT}/manifests/{tag}", 201, body=body, headers=headers)
    finally:
        client.close()


def tag_levels(run: Scaling, targets: list[w.Target]) -> None:
    """The whole list, one request: right after a write, and repeated."""
    for repeat in range(run.repeats):
        for count in ordered(run.levels.tags, repeat):
            announce(f"tag list, {count:,} tags", repeat, run.repeats)
            for target in targets:
                list_after_write(run, target, count, f"s{count}-{repeat}")


def list_after_write(run: Scaling, target: w.Target, count: int, tag: str) -> None:
    """Medians of 5 (write, list) cycles and of the 11 listings after them: one sample each."""
    repository, first = tag_repository(count), []
    for cycle in range(5):
        write_elsewhere(target, f"{tag}-{cycle}")
        seconds, items, _ = w.list_tags(target, None, repository)
        expect(items, count, f"{target.name} {repository}")
        first.append(seconds)
    run.add(TAGS_FIRST, target.name, count, statistics.median(first))
    again = [w.list_tags(target, None, repository)[0] for _ in range(11)]
    run.add(TAGS_AGAIN, target.name, count, statistics.median(again))


def repository_levels(run: Scaling) -> None:
    """A pair of registries per level, all started first, then every level in every repeat."""
    pairs: dict[int, list[w.Target]] = {}
    try:
        for count in run.levels.repositories:
            folder = run.work / f"repositories-{count}"
            folder.mkdir()
            pairs[count] = start_pair(folder, run.workers, {}, count)
            for target in pairs[count]:
                push_image(target, repository_name(count - 1), "latest")
        for repeat in range(run.repeats):
            for count in ordered(run.levels.repositories, repeat):
                announce(f"{count:,} repositories", repeat, run.repeats)
                for target in pairs[count]:
                    get_rate(run, target, count)
    finally:
        for targets in pairs.values():
            stop(targets)


def get_rate(run: Scaling, target: w.Target, count: int) -> None:
    """GETs of the image in the last seeded repository, after 2 s of warm-up."""
    chosen = repository_name(count - 1)
    w.manifest_rate(target, "GET", 2.0, chosen)
    rate = w.manifest_rate(target, "GET", run.levels.rate_seconds, chosen)
    check_errors(rate, f"{target.name} manifest GET")
    run.add(GET, target.name, count, rate.requests_per_second)
    run.add(GET_P99, target.name, count, rate.p99_ms)


def sampled(run: Scaling, server: servers.Server, step: str, action: Callable[[], float]) -> None:
    sampler = servers.RssSampler(server)
    try:
        seconds = action()
    finally:
        peak = max(sampler.close(), server.rss_bytes())
    peak_rss = max(sampler.peak_rss, server.largest_rss_bytes())
    row = {"registry": server.name, "step": step, "seconds": seconds}
    run.memory.append(row | {"peak_pss_mb": peak / MB, "peak_rss_mb": peak_rss / MB})
    print(f"  {server.name:12} {step:40} peak PSS {peak / MB:7.1f} MB", flush=True)


def memory_levels(run: Scaling, targets: list[w.Target]) -> None:
    """One push (monolithic), its pull, and one chunked push, sampling memory every 0.1 s."""
    blob = BlobFile(run.work / "blob-memory.bin", run.levels.memory_mib * MIB)
    try:
        for target in targets:
            memory_of(run, target.server, blob)
    finally:
        blob.path.unlink()


def memory_of(run: Scaling, server: servers.Server, blob: BlobFile) -> None:
    size = size_label(run.levels.memory_mib)
    idle = {"registry": server.name, "step": "idle, before", "seconds": 0.0}
    pss, rss = server.rss_bytes() / MB, server.largest_rss_bytes() / MB
    run.memory.append(idle | {"peak_pss_mb": pss, "peak_rss_mb": rss})
    blob.make_variant(f"memory-{server.name}-monolithic")
    os.sync()
    sampled(
        run, server, f"push {size} monolithic", lambda: timed_push(server, blob, push_monolithic)
    )
    sampled(run, server, f"pull {size}", lambda: timed_pull(server, blob))
    remove_blob(server, blob.digest)
    blob.make_variant(f"memory-{server.name}-chunked")
    os.sync()
    step = f"push {size} chunked (16 MiB PATCHes)"
    sampled(run, server, step, lambda: timed_push(server, blob, push_chunked))
    remove_blob(server, blob.digest)


def checkpoint(run: Scaling, targets: list[w.Target], when: str) -> None:
    for target in targets:
        run.notes[f"{target.name} PSS MB {when}"] = target.server.rss_bytes() / MB


def sized_levels(run: Scaling) -> None:
    """Blobs, tag lists and memory on one pair of registries, sampled over the whole phase."""
    folder = run.work / "sized"
    folder.mkdir()
    tagged = {tag_repository(count): count for count in run.levels.tags}
    targets = start_pair(folder, run.workers, tagged, 0)
    samplers = [servers.RssSampler(target.server) for target in targets]
    try:
        checkpoint(run, targets, "once started")
        blob_levels(run, targets)
        checkpoint(run, targets, "after the blob sizes")
        tag_levels(run, targets)
        checkpoint(run, targets, "after the tag lists")
        memory_levels(run, targets)
    finally:
        for target, sampler in zip(targets, samplers, strict=True):
            run.notes[f"{target.name} peak PSS MB, whole phase"] = sampler.close() / MB
            run.notes[f"{target.name} peak largest RSS MB, whole phase"] = sampler.peak_rss / MB
        stop(targets)
    shutil.rmtree(folder)


def commit() -> str:
    """The commit measured, marked when the working tree differs from it."""
    git = ["git", "-C", str(REPO_ROOT)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True
    )
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "src"], check=False)
    return (head.stdout.strip() or "unknown") + (
        " (with local changes)" if dirty.returncode else ""
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short rate runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--berth-workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "performance.md")
    parser.add_argument(
        "--chart", type=Path, default=REPO_ROOT / "docs" / "performance-scaling.png"
    )
    parser.add_argument(
        "--json", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "scaling.json"
    )
    parser.add_argument("--work-dir", type=Path, help="where blobs and registry data go (tmp)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/scaling.py", *argv])
    levels = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="berth-scaling-", dir=args.work_dir) as temporary:
        run = Scaling(levels, Path(temporary), args.repeats, args.berth_workers)
        run.notes["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        run.notes["machine"] = report.machine()
        run.notes["commit"] = commit()
        sized_levels(run)
        repository_levels(run)
    results = {"command": command, "levels": levels.__dict__, "repeats": args.repeats}
    results |= {"notes": run.notes, "samples": run.samples, "memory": run.memory}
    report.write_json(args.json, results)
    chart(args.chart, run)
    section = render(run, command, args)
    report.write_section(args.out, section, BEGIN, END)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
