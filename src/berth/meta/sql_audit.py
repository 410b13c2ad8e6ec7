"""AuditStore over SQL."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from berth.meta.base import AuditEvent, AuditFilter
from berth.meta.schema import audit_events
from berth.meta.sql_common import SqlConnection, starts_with

__all__ = ["SqlAuditStore"]

_a = audit_events
_COLUMNS = ("at", "principal", "action", "resource", "outcome", "source_ip", "request_id")


class SqlAuditStore:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def add(self, events: Sequence[AuditEvent]) -> None:
        if events:
            await self._conn.execute(_a.insert(), [_row(event) for event in events])

    async def list(
        self, where: AuditFilter, before_id: int | None = None, limit: int = 100
    ) -> builtins.list[AuditEvent]:
        query = select(_a).order_by(_a.c.id.desc()).limit(limit)
        for condition in _conditions(where, before_id):
            query = query.where(condition)
        rows = (await self._conn.execute(query)).all()
        return [AuditEvent(**{**row._mapping}) for row in rows]


def _row(event: AuditEvent) -> dict[str, Any]:
    values = {name: getattr(event, name) for name in _COLUMNS}
    values["message"] = event.message[:4000]
    return values


def _conditions(where: AuditFilter, before_id: int | None) -> list[Any]:
    conditions: list[Any] = []
    if before_id is not None:
        conditions.append(_a.c.id < before_id)
    if where.principal:
        conditions.append(_a.c.principal == where.principal)
    if where.action:
        conditions.append(_a.c.action == where.action)
    if where.outcome:
        conditions.append(_a.c.outcome == where.outcome)
    if where.resource_prefix:
        conditions.append(starts_with(_a.c.resource, where.resource_prefix))
    if where.since is not None:
        conditions.append(_a.c.at >= where.since)
    if where.until is not None:
        conditions.append(_a.c.at < where.until)
    return conditions
