"""The policy simulator: would this principal be allowed this action on this resource?"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from berth.errors import BerthError, InvalidInputError
from berth.services.access import RequestContext
from berth.services.console_iam import Simulation
from berth.web.guard import page, visit

__all__ = ["parse_context", "simulate"]

MAX_FIELD = 2048
MAX_CONTEXT_LINES = 50


def parse_context(text: str) -> RequestContext:
    """``key=value`` lines; a key given twice becomes a list of values."""
    context: dict[str, str | list[str] | bool | int | None] = {}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_CONTEXT_LINES:
        raise InvalidInputError(f"At most {MAX_CONTEXT_LINES} context keys")
    for line in lines:
        key, equals, value = line.partition("=")
        key = key.strip()
        if not equals or not key:
            raise InvalidInputError(f"Context line {line[:200]!r} is not key=value")
        value = value.strip()
        existing = context.get(key)
        if existing is None:
            context[key] = value
        elif isinstance(existing, list):
            existing.append(value)
        else:
            context[key] = [str(existing), value]
    return context


async def simulate(request: Request) -> Response:
    current = await visit(request)
    params = request.query_params
    form = {
        "principal": params.get("principal", "").strip()[:MAX_FIELD],
        "action": params.get("action", "").strip()[:MAX_FIELD],
        "resource": params.get("resource", "").strip()[:MAX_FIELD],
        "context": params.get("context", "")[: MAX_FIELD * 8],
    }
    if not form["principal"]:
        form["principal"] = current.principal.arn
    decision: Simulation | None = None
    error = ""
    status = 200
    if "action" in params:
        try:
            context = parse_context(form["context"])
            decision = await current.console.iam.simulate(
                current.principal, form["principal"], form["action"], form["resource"], context
            )
        except BerthError as failure:
            error, status = failure.message, failure.status
    return page(
        request,
        current,
        "simulator.html",
        status,
        section="simulator",
        form=form,
        decision=decision,
        error=error,
    )
