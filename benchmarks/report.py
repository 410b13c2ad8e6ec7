"""Medians, ratios and targets: the Markdown table (between markers in docs/performance.md), the
JSON of every sample, and a PNG chart of the ratios."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Workload:
    name: str
    unit: str
    higher_is_better: bool = True


def machine() -> str:
    """The line that says where a figure was measured."""
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def median(samples: list[float]) -> float | None:
    return statistics.median(samples) if samples else None


def ratio(workload: Workload, berth: float | None, other: float | None) -> float | None:
    """Berth against ``other``, oriented so that above 1 means Berth is better."""
    if not berth or not other:
        return None
    return berth / other if workload.higher_is_better else other / berth


def cell(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}" if value >= 1 else f"{value:.3g}"


def results_table(workloads: list[Workload], samples: dict[str, dict[str, list[float]]]) -> str:
    lines = [
        "| workload | unit | Berth | distribution | Berth / distribution |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for workload in workloads:
        row = samples.get(workload.name, {})
        berth, other = median(row.get("berth", [])), median(row.get("distribution", []))
        better = "higher" if workload.higher_is_better else "lower"
        unit = f"{workload.unit} ({better} is better)"
        ratio_text = cell(ratio(workload, berth, other), 2)
        lines.append(f"| {workload.name} | {unit} | {cell(berth)} | {cell(other)} | {ratio_text} |")
    return "\n".join(lines)


def bounds_table(bounds: dict[str, list[float]]) -> str:
    lines = ["| bound | MB/s |", "| --- | ---: |"]
    lines += [f"| {name} | {cell(median(values))} |" for name, values in bounds.items()]
    return "\n".join(lines)


def cpu_table(cpu: dict[str, list[tuple[float, float]]]) -> str:
    lines = ["| pull | server CPU s/GB | client CPU s/GB |", "| --- | ---: | ---: |"]
    for name, pairs in cpu.items():
        server = median([pair[0] for pair in pairs])
        client = median([pair[1] for pair in pairs])
        lines.append(f"| {name} | {cell(server, 2)} | {cell(client, 2)} |")
    return "\n".join(lines)


def targets_table(targets: list[tuple[str, str, float | None, bool | None]]) -> str:
    lines = ["| target | goal | measured | met |", "| --- | --- | ---: | --- |"]
    for name, goal, value, met in targets:
        verdict = "-" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {goal} | {cell(value, 2)} | {verdict} |")
    return "\n".join(lines)


def write_section(path: Path, section: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace what lies between the markers (or append the markers and the section)."""
    text = path.read_text() if path.exists() else "# Performance\n"
    block = f"{begin}\n{section.strip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def write_json(path: Path, results: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def chart(
    path: Path, workloads: list[Workload], samples: dict[str, dict[str, list[float]]]
) -> None:
    import matplotlib  # noqa: PLC0415 (the backend must be chosen before pyplot loads)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names, values = [], []
    for workload in workloads:
        row = samples.get(workload.name, {})
        value = ratio(workload, median(row.get("berth", [])), median(row.get("distribution", [])))
        if value is not None:
            names.append(workload.name)
            values.append(value)
    figure, axes = plt.subplots(figsize=(9, 0.4 * len(names) + 1.5))
    colours = ["#2a9d8f" if value >= 1 else "#e76f51" for value in values]
    axes.barh(names[::-1], values[::-1], color=colours[::-1])
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_xscale("log")
    axes.set_xlabel("Berth / distribution (> 1: Berth is better; log scale)")
    for index, value in enumerate(values[::-1]):
        axes.text(value, index, f" {value:.2f}x", va="center", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
