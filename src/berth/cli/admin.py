"""Admin commands on a data directory: ``berth gc``, ``berth lifecycle run``,
``berth admin backup`` and ``berth admin restore``."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from berth.cli.aws import EXIT_USAGE, fail, stderr
from berth.cli.backup import BackupError, backup, restore_blobs, restore_files
from berth.cli.local import load, open_services
from berth.cli.maintenance import (
    GcBusyError,
    GcReport,
    LifecycleOutcome,
    collect_garbage,
    run_lifecycle,
)

__all__ = ["admin_app", "gc", "lifecycle_app"]

admin_app = typer.Typer(help="Back up and restore a data directory.", no_args_is_help=True)
lifecycle_app = typer.Typer(help="Lifecycle policy expiry.", no_args_is_help=True)
out = Console(highlight=False)

DataDirOption = Annotated[Path, typer.Option("--data-dir", help="The server's data directory.")]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        disable=quiet,
    )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(count)


def gc(
    data_dir: DataDirOption,
    grace_hours: Annotated[
        float | None,
        typer.Option(help="Keep unreferenced blobs younger than this (default: gc_grace_seconds)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, remove nothing.")] = False,
    config: ConfigOption = None,
    quiet: QuietOption = False,
) -> None:
    """Remove blobs no manifest references (after a grace period), as the servers' GC job does."""
    if grace_hours is not None and grace_hours < 0:
        fail("error: --grace-hours cannot be negative", EXIT_USAGE)
    settings = load(config, data_dir)
    grace = timedelta(
        seconds=settings.gc_grace_seconds if grace_hours is None else grace_hours * 3600
    )

    async def run() -> GcReport:
        async with open_services(settings) as services:
            with _progress(quiet) as progress:
                return await collect_garbage(services, grace, dry_run, progress)

    try:
        report = asyncio.run(run())
    except GcBusyError as error:
        fail(f"error: {error}", 1)
    _print_gc(report, dry_run)


def _print_gc(report: GcReport, dry_run: bool) -> None:
    table = Table(title="Garbage collection" + (" (dry run)" if dry_run else ""))
    table.add_column("")
    table.add_column("count", justify="right")
    verb = "would remove" if dry_run else "removed"
    rows = [
        (
            "stale links dropped" if not dry_run else "stale links to drop",
            str(report.links_dropped),
        ),
        ("unrecorded blobs recorded", str(report.adopted)),
        (verb, f"{len(report.removed)} ({_size(report.removed_bytes)})"),
    ]
    if report.failed:
        rows.append(("failed (kept for the next run)", str(report.failed)))
    for row in rows:
        table.add_row(*row)
    out.print(table)
    for digest, size in report.removed:
        typer.echo(f"{verb}\t{digest}\t{size}")


@lifecycle_app.command("run")
def lifecycle_run(
    data_dir: DataDirOption,
    repository: Annotated[
        str | None, typer.Option(help="Only this repository (else all with a policy).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Preview what would expire.")] = False,
    config: ConfigOption = None,
    quiet: QuietOption = False,
) -> None:
    """Expire images now as the repositories' lifecycle policies say (in-process)."""
    settings = load(config, data_dir)

    async def run() -> list[LifecycleOutcome] | None:
        async with open_services(settings) as services:
            with _progress(quiet) as progress:
                return await run_lifecycle(services, repository, dry_run, progress)

    outcomes = asyncio.run(run())
    if outcomes is None:
        fail(f"error: repository {repository!r} does not exist in {data_dir}", 1)
    table = Table(title="Lifecycle" + (" (dry run)" if dry_run else ""))
    for column in ("repository", "would expire" if dry_run else "expired", "tags", "note"):
        table.add_column(column)
    for outcome in outcomes:
        tags = ", ".join(outcome.tags[:6]) + (" ..." if len(outcome.tags) > 6 else "")
        table.add_row(outcome.repository, str(outcome.images), tags, outcome.error or "")
    out.print(table)
    if any(
        outcome.error and outcome.images == 0 and "policy" not in outcome.error
        for outcome in outcomes
    ):
        raise typer.Exit(1)


@admin_app.command("backup")
def backup_command(
    data_dir: DataDirOption,
    to: Annotated[Path, typer.Option("--to", help="The archive to write (FILE.tar).")],
    config: ConfigOption = None,
    quiet: QuietOption = False,
) -> None:
    """Back up metadata (SQLite, online) and blobs into one tar file."""
    settings = load(config, data_dir)
    try:
        with _progress(quiet) as progress:
            summary = asyncio.run(backup(settings, to, progress))
    except (BackupError, OSError) as error:
        fail(f"error: {error}", 1)
    out.print(f"Backed up {data_dir} to {to}: metadata and {summary['blobs']} blobs", markup=False)


def _is_empty(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


@admin_app.command("restore")
def restore_command(
    source: Annotated[Path, typer.Option("--from", help="The archive `berth admin backup` wrote.")],
    data_dir: DataDirOption,
    force: Annotated[
        bool, typer.Option("--force", help="Restore into a non-empty data directory.")
    ] = False,
    config: ConfigOption = None,
    quiet: QuietOption = False,
) -> None:
    """Restore a backup into a data directory (empty unless --force)."""
    if not source.is_file():
        fail(f"error: {source}: no such file", EXIT_USAGE)
    if not _is_empty(data_dir) and not force:
        fail(f"error: {data_dir} is not empty; restore into an empty directory or add --force", 1)
    settings = load(config, data_dir, must_exist=False)
    try:
        with _progress(quiet) as progress:
            total = restore_files(settings, source, progress)
            written = asyncio.run(restore_blobs(settings, source, total, progress))
    except (BackupError, OSError, ValueError) as error:
        fail(f"error: {error}", 1)
    out.print(f"Restored {source} into {data_dir}: metadata and {written} blobs", markup=False)
