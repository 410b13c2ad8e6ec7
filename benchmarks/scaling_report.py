"""The tables, growth lines and chart of ``scaling.py``: each workload at each level, Berth
beside distribution, the cost per unit of work and the exponent of a log-log fit."""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import report
from report import Workload
from run import display

if TYPE_CHECKING:
    from scaling import Scaling

REGISTRIES = ("berth", "distribution")
SHOWN = {"berth": "Berth", "distribution": "distribution"}

PUSH = Workload("push, monolithic", "s", higher_is_better=False)
PULL = Workload("pull", "s", higher_is_better=False)
TAGS_FIRST = Workload("tag list, first after a write", "s", higher_is_better=False)
TAGS_AGAIN = Workload("tag list, repeated", "s", higher_is_better=False)
GET = Workload("manifest GET, 32 connections", "req/s")
GET_P99 = Workload("manifest GET p99", "ms", higher_is_better=False)


def size_label(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib >= 1024 and mib % 1024 == 0 else f"{mib} MiB"


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
    parts = [
        header(run, command),
        blob_section(run),
        tag_section(run),
        repository_section(run),
        memory_section(run),
        f"![How the figures grow]({args.chart.name})",
        f"Raw samples: `{display(args.json)}`.",
    ]
    return "\n\n".join(parts)


def header(run: Scaling, command: str) -> str:
    notes = run.notes
    return "\n".join(
        [
            "## How the figures grow with the work",
            "",
            f"Measured {notes['date']} on {notes['machine']}; Berth with {run.workers} "
            "worker(s), driven as the IAM user of `make bench` (a token check and a policy "
            "decision on every request), distribution 2.8 without authentication; "
            f"{repeats_text(run.repeats)}; each repeat measures every level, Berth then "
            "distribution (smallest level first in odd repeats, largest first in even ones). "
            f"Berth at commit {notes['commit']}. "
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
        ]
    )


def blob_section(run: Scaling) -> str:
    sizes, per_gib = run.levels.blob_mib, ("s per GiB", 1024.0)
    return "\n".join(
        [
            "### Blob size: push (monolithic) and pull",
            "",
            level_table(run, "blob", sizes, size_label, [PUSH, PULL]),
            "",
            growth_line(run, PUSH, sizes, per_gib, size_label),
            growth_line(run, PULL, sizes, per_gib, size_label),
        ]
    )


def tag_section(run: Scaling) -> str:
    tags, per_tag, count = run.levels.tags, ("us per tag", 1e6), "{:,}".format
    return "\n".join(
        [
            "### Tag count: the whole tag list, one request",
            "",
            "First after a write: a manifest PUT in another repository, then the listing "
            "(a write to the tags table sends Berth's cached tag lists back to the database), "
            "5 times, median; repeated: the median of the 11 listings that follow.",
            "",
            level_table(run, "tags", tags, count, [TAGS_FIRST, TAGS_AGAIN]),
            "",
            growth_line(run, TAGS_FIRST, tags, per_tag, count),
            growth_line(run, TAGS_AGAIN, tags, per_tag, count),
        ]
    )


def repository_section(run: Scaling) -> str:
    repositories = run.levels.repositories
    return "\n".join(
        [
            "### Repositories: manifest GET rate",
            "",
            "A pair of registries per level, each holding that many seeded repositories "
            "(plus the 3 the harness pushes to), all started before the first repeat so "
            "every repeat measures every level; `ab`, 32 keep-alive connections, "
            f"{run.levels.rate_seconds:.0f} s after 2 s of warm-up, GETs by tag of one image "
            "pushed into the last seeded repository.",
            "",
            level_table(run, "repositories", repositories, "{:,}".format, [GET, GET_P99]),
            "",
            rate_line(run, repositories),
        ]
    )


def memory_section(run: Scaling) -> str:
    return "\n".join(
        [
            f"### Memory through a {size_label(run.levels.memory_mib)} push and pull",
            "",
            "Sampled every 0.1 s on the servers of the blob and tag-list steps, after them: "
            "PSS summed over the server's processes (pages the workers share with the main "
            "process count once) and the RSS of its largest process.",
            "",
            memory_table(run),
            "",
            memory_verdict(run),
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
