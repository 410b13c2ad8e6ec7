"""The audit log page: authorization decisions, newest first, filtered by who, what and when.

Reading it takes ``cloudtrail:LookupEvents``, the AWS action for reading an account's event
history.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from berth.errors import ValidationError
from berth.meta.base import AuditFilter
from berth.web.guard import page, visit

__all__ = ["AUDIT_ACTION", "FILTERS", "OUTCOMES", "audit_filter", "list_audit_events"]

AUDIT_ACTION = "cloudtrail:LookupEvents"
FILTERS = ("principal", "action", "resource", "outcome", "since", "until")
OUTCOMES = ("allow", "explicit-deny", "implicit-deny", "invalid-credentials", "throttled")
PAGE = 100


def _moment(text: str, name: str) -> datetime | None:
    """A ``datetime-local`` value (or an ISO time), read as UTC when it names no zone."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{name} must be a date and time such as 2025-01-31T12:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit_filter(filters: dict[str, str]) -> AuditFilter:
    return AuditFilter(
        principal=filters["principal"] or None,
        action=filters["action"] or None,
        outcome=filters["outcome"] if filters["outcome"] in OUTCOMES else None,
        resource_prefix=filters["resource"] or None,
        since=_moment(filters["since"], "since"),
        until=_moment(filters["until"], "until"),
    )


def _before(request: Request) -> int | None:
    text = request.query_params.get("before", "")
    return int(text) if text.isdigit() and len(text) < 18 else None


async def list_audit_events(request: Request) -> Response:
    current = await visit(request)
    services = current.console.services
    await services.access.authorize(current.principal, AUDIT_ACTION, "*")
    filters = {name: request.query_params.get(name, "").strip()[:512] for name in FILTERS}
    error, events = "", []
    try:
        events = await services.audit.list(audit_filter(filters), _before(request), PAGE)
    except ValidationError as failure:
        error = failure.message
    return page(
        request,
        current,
        "audit.html",
        400 if error else 200,
        section="audit",
        filters=filters,
        outcomes=OUTCOMES,
        events=events,
        error=error,
        more=len(events) == PAGE,
    )
