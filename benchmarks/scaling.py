"""How each figure grows with the work, Berth beside distribution in one run: push and pull time
against blob size, tag-list time against tag count, manifest GET rate against the number of
repositories, and each registry's memory through a 5 GiB push and pull.

    python benchmarks/scaling.py [--quick] [--repeats 3] [--berth-workers 1]

See benchmarks/README.md; `make bench-scaling` runs it as docs/performance.md shows it.
"""

from __future__ import annotations

import argparse
import math
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
from typing import Any

import report
import servers
import workloads as w
from blobs import MIB, REPOSITORY, BlobFile, Client, pull, push_chunked, push_monolithic, timed
from report import Workload
from run import MB, REPO_ROOT, check_errors, display, expect
from seeding import repository_name, seed_berth_bulk, seed_distribution, tag_name

BEGIN, END = "<!-- scaling:begin -->", "<!-- scaling:end -->"
CHUNK = 16 * MIB
REGISTRIES = ("berth", "distribution")
SHOWN = {"berth": "Berth", "distribution": "distribution"}
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

PUSH = Workload("push, monolithic", "s", higher_is_better=False)
PULL = Workload("pull", "s", higher_is_better=False)
TAGS_FIRST = Workload("tag list, first after a write", "s", higher_is_better=False)
TAGS_AGAIN = Workload("tag list, repeated", "s", higher_is_better=False)
GET = Workload("manifest GET, 32 connections", "req/s")
GET_P99 = Workload("manifest GET p99", "ms", higher_is_better=False)


def tag_repository(count: int) -> str:
    return f"bench/tags{count}"


def size_label(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib >= 1024 and mib % 1024 == 0 else f"{mib} MiB"


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


# -- growth, tables, chart -------------------------------------------------------------------------


def exponent(levels: list[int], values: list[float | None]) -> float | None:
    """The slope of log(value) against log(level), least squares: 1 is linear, 0 is flat."""
    points = [(math.log(x), math.log(y)) for x, y in zip(levels, values, strict=True) if y]
    if len(points) < 2:
        return None
    xs, ys = zip(*points, strict=True)
    return statistics.linear_regression(xs, ys).slope


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def shape(slope: float | None, last: float | None) -> str:
    """A word for the fitted exponent; a last step above 1.15 is called out whatever the fit."""
    if slope is None:
        return "not measured"
    if slope > 1.15:
        return "**worse than linear**"
    if last is not None and last > 1.15:
        return "**worse than linear over the last step**"
    if abs(slope) < 0.15:
        return "flat"
    if slope < 0:
        return "falls as the work grows (noise, or fixed costs that dominate)"
    if slope < 0.85:
        return "sublinear (fixed costs weigh at the small end)"
    return "linear"


def growth_line(
    run: Scaling,
    workload: Workload,
    levels: tuple[int, ...],
    unit: tuple[str, float],
    label: Callable[[int], str],
) -> str:
    """Per-unit cost at every level and the fitted exponent, for each registry."""
    name, scale = unit
    parts = []
    for registry in REGISTRIES:
        medians = [run.median(workload, registry, level) for level in levels]
        costs = [
            "-" if value is None else report.cell(value * scale / level, 2)
            for value, level in zip(medians, levels, strict=True)
        ]
        slope = exponent(list(levels), medians)
        last = exponent(list(levels[-2:]), medians[-2:])
        fitted = f"exponent {number(slope)} over the range, {number(last)} over the last step"
        parts.append(f"{SHOWN[registry]} {', '.join(costs)} {name}; {fitted}: {shape(slope, last)}")
    where = ", ".join(label(level) for level in levels)
    return f"- {workload.name} ({name} at {where}): " + "; ".join(parts) + "."


def rate_line(run: Scaling, levels: tuple[int, ...]) -> str:
    parts = []
    for registry in REGISTRIES:
        first, last = (run.median(GET, registry, level) for level in (levels[0], levels[-1]))
        if not first or not last:
            continue
        change = last / first - 1
        verdict = "flat" if abs(change) < 0.15 else ("falls" if change < 0 else "rises")
        parts.append(f"{SHOWN[registry]} {change:+.0%} ({verdict})")
    return (
        f"- manifest GET rate from {levels[0]:,} to {levels[-1]:,} repositories: "
        + "; ".join(parts)
        + "."
    )


def level_table(
    run: Scaling,
    heading: str,
    levels: tuple[int, ...],
    label: Callable[[int], str],
    workloads: list[Workload],
) -> str:
    header, rule = [heading], ["---"]
    for workload in workloads:
        unit = workload.unit
        header += [f"{workload.name}: Berth ({unit})", f"distribution ({unit})", "Berth / d."]
        rule += ["---:"] * 3
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    for level in levels:
        row = [label(level)]
        for workload in workloads:
            berth, other = (run.median(workload, registry, level) for registry in REGISTRIES)
            digits = 1 if workload.unit == "ms" else 2
            row += [report.cell(berth, digits), report.cell(other, digits)]
            row.append(report.cell(report.ratio(workload, berth, other), 2))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def memory_table(run: Scaling) -> str:
    lines = [
        "| registry | step | s | peak PSS, all processes (MB) | peak RSS, largest process (MB) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in run.memory:
        seconds = float(row["seconds"])  # type: ignore[arg-type]
        pss, rss = float(row["peak_pss_mb"]), float(row["peak_rss_mb"])  # type: ignore[arg-type]
        time_text = "-" if not seconds else f"{seconds:.1f}"
        lines.append(f"| {row['registry']} | {row['step']} | {time_text} | {pss:.1f} | {rss:.1f} |")
    return "\n".join(lines)


def memory_verdict(run: Scaling) -> str:
    berth = [float(row["peak_pss_mb"]) for row in run.memory if row["registry"] == "berth"]  # type: ignore[arg-type]
    if not berth:
        return ""
    peak = max(berth)
    met = "met" if peak < 200 else "**missed**"
    size = size_label(run.levels.memory_mib)
    whole = run.notes.get("berth peak PSS MB, whole phase", 0.0)
    steps = ("once started", "after the blob sizes", "after the tag lists")
    trail = {
        registry: ", ".join(
            f"{run.notes.get(f'{registry} PSS MB {when}', 0.0):.0f} MB {when}" for when in steps
        )
        for registry in REGISTRIES
    }
    return (
        f"PSS between the steps: Berth {trail['berth']}; distribution {trail['distribution']}. "
        f"Berth's peak through the {size} pushes and pull: **{peak:.0f} MB PSS** (target "
        f"< 200 MB: {met}); over the whole phase on these servers (all blob sizes, the tag lists, "
        f"this step) {whole:.0f} MB. Distribution's over the same phase: "
        f"{run.notes.get('distribution peak PSS MB, whole phase', 0.0):.0f} MB."
    )


def repeats_text(repeats: int) -> str:
    return "one run" if repeats == 1 else f"medians of {repeats} repeats"


def render(run: Scaling, command: str, args: argparse.Namespace) -> str:
    levels, notes = run.levels, run.notes
    sizes, tags, repositories = levels.blob_mib, levels.tags, levels.repositories
    gib_seconds = ("s per GiB", 1024.0)
    tag_micros = ("us per tag", 1e6)
    return "\n".join(
        [
            "## How the figures grow with the work",
            "",
            f"Measured {notes['date']} on {notes['machine']}; Berth with {run.workers} "
            "worker(s), driven as the IAM user of `make bench` (a token check and a policy "
            "decision on every request), distribution 2.8 without authentication; "
            f"{repeats_text(run.repeats)}; each repeat measures every level, Berth then "
            "distribution (smallest level first in odd repeats, largest first in even ones). "
            f"Berth at commit {run.notes['commit']}. "
            "`benchmarks/README.md` says what each step does.",
            "",
            "```",
            command,
            "```",
            "",
            "Ratios are Berth / distribution, above 1 when Berth is better (time ratios "
            "inverted). Each growth line gives the cost per unit of work at every level and the "
            "exponent k of a least-squares fit of time = c * work^k on log scales (1: linear, "
            "0: flat).",
            "",
            "### Blob size: push (monolithic) and pull",
            "",
            level_table(run, "blob", sizes, size_label, [PUSH, PULL]),
            "",
            growth_line(run, PUSH, sizes, gib_seconds, size_label),
            growth_line(run, PULL, sizes, gib_seconds, size_label),
            "",
            "### Tag count: the whole tag list, one request",
            "",
            "First after a write: a manifest PUT in another repository, then the listing "
            "(a write to the tags table sends Berth's cached tag lists back to the database), "
            "5 times, median; repeated: the median of the 11 listings that follow.",
            "",
            level_table(run, "tags", tags, "{:,}".format, [TAGS_FIRST, TAGS_AGAIN]),
            "",
            growth_line(run, TAGS_FIRST, tags, tag_micros, "{:,}".format),
            growth_line(run, TAGS_AGAIN, tags, tag_micros, "{:,}".format),
            "",
            "### Repositories: manifest GET rate",
            "",
            "A pair of registries per level, each holding that many seeded repositories "
            "(plus the 3 the harness pushes to), all started before the first repeat so "
            "every repeat measures every level; `ab`, 32 keep-alive connections, "
            f"{levels.rate_seconds:.0f} s after 2 s of warm-up, GETs by tag of one image pushed "
            "into the last seeded repository.",
            "",
            level_table(run, "repositories", repositories, "{:,}".format, [GET, GET_P99]),
            "",
            rate_line(run, repositories),
            "",
            f"### Memory through a {size_label(levels.memory_mib)} push and pull",
            "",
            "Sampled every 0.1 s on the servers of the blob and tag-list steps, after them: "
            "PSS summed over the server's processes (pages the workers share with the main "
            "process count once) and the RSS of its largest process.",
            "",
            memory_table(run),
            "",
            memory_verdict(run),
            "",
            f"![How the figures grow]({args.chart.name})",
            "",
            f"Raw samples: `{display(args.json)}`.",
        ]
    )


@dataclass(frozen=True)
class Panel:
    title: str
    xlabel: str
    ylabel: str
    workloads: list[Workload]
    levels: tuple[int, ...]
    label: Callable[[int], str]
    linear: bool = True


def chart(path: Path, run: Scaling) -> None:
    import matplotlib  # noqa: PLC0415 (the backend must be chosen before pyplot loads)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    levels, count = run.levels, "{:,}".format
    panels = [
        Panel("push, monolithic", "blob", "s", [PUSH], levels.blob_mib, size_label),
        Panel("pull", "blob", "s", [PULL], levels.blob_mib, size_label),
        Panel("whole tag list", "tags", "s", [TAGS_FIRST, TAGS_AGAIN], levels.tags, count),
        Panel("manifest GET", "repositories", "req/s", [GET], levels.repositories, count, False),
    ]
    figure, grid = plt.subplots(2, 2, figsize=(11, 8))
    for axes, panel in zip(grid.flat, panels, strict=True):
        draw(axes, run, panel)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def draw(axes: Any, run: Scaling, panel: Panel) -> None:
    xs = panel.levels
    for workload in panel.workloads:
        for registry, colour in zip(REGISTRIES, ("#2a9d8f", "#e76f51"), strict=True):
            ys = [run.median(workload, registry, x) or math.nan for x in xs]
            style = "--" if workload is TAGS_AGAIN else "-"
            shown = SHOWN[registry]
            name = shown if len(panel.workloads) == 1 else f"{shown}, {workload.name[10:]}"
            axes.plot(xs, ys, style, marker="o", color=colour, label=name)
            if panel.linear and workload is panel.workloads[0] and not math.isnan(ys[0]):
                guide = [ys[0] * x / xs[0] for x in xs]
                axes.plot(xs, guide, ":", color=colour, linewidth=1)
    axes.set_xscale("log")
    axes.set_xticks(xs, [panel.label(x) for x in xs])
    axes.minorticks_off()
    if panel.linear:
        axes.set_yscale("log")
    else:
        axes.set_ylim(bottom=0)
    axes.set_title(panel.title + (" (dotted: linear from the first point)" if panel.linear else ""))
    axes.set_xlabel(panel.xlabel)
    axes.set_ylabel(panel.ylabel)
    axes.legend(fontsize=8)


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
