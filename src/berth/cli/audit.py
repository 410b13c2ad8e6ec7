"""``berth audit``: list the audit log of a data directory (newest first)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from berth.cli.local import load, open_services
from berth.meta.base import AuditEvent, AuditFilter

__all__ = ["audit"]

out = Console(highlight=False)


def _when(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            "an ISO 8601 time, e.g. 2026-11-27T10:00:00+00:00", param_hint=flag
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter("give a time zone, e.g. +00:00", param_hint=flag)
    return moment


def _row(event: AuditEvent) -> dict[str, object]:
    return {
        "id": event.id,
        "time": event.at.isoformat(),
        "principal": event.principal,
        "action": event.action,
        "resource": event.resource,
        "outcome": event.outcome,
        "sourceIp": event.source_ip,
        "requestId": event.request_id,
        "message": event.message,
    }


def audit(
    *,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The server's data directory.")],
    principal: Annotated[str | None, typer.Option(help="Only this principal ARN.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. ecr:PutImage.")] = None,
    outcome: Annotated[
        str | None,
        typer.Option(help="allow, explicit-deny, implicit-deny, invalid-credentials or throttled."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many events.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="TOML settings file.")] = None,
) -> None:
    """List authorization decisions on writes, and every refusal, newest first."""
    where = AuditFilter(
        principal=principal,
        action=action,
        outcome=outcome,
        since=_when(since, "--since"),
        until=_when(until, "--until"),
    )
    settings = load(config, data_dir)

    async def run() -> list[AuditEvent]:
        async with open_services(settings) as services:
            return await services.audit.list(where, limit=limit)

    events = asyncio.run(run())
    if as_json:
        for event in events:
            typer.echo(json.dumps(_row(event)))
        return
    table = Table(title=f"Audit log ({len(events)} events)")
    for column in ("time", "principal", "action", "resource", "outcome", "source"):
        table.add_column(column, overflow="fold")
    for event in events:
        table.add_row(
            event.at.strftime("%Y-%m-%d %H:%M:%S"),
            event.principal,
            event.action,
            event.resource,
            event.outcome,
            event.source_ip,
        )
    out.print(table)
