"""IAM pages: users (with their access keys), roles and customer managed policies."""

from __future__ import annotations

import json
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from berth.web.guard import page, visit

__all__ = ["get_policy", "get_role", "get_user", "list_policies", "list_roles", "list_users"]

MAX_NAME = 512


def pretty(document: str) -> str:
    """A policy document indented for reading (as stored when it is not JSON)."""
    try:
        return json.dumps(json.loads(document), indent=2)
    except ValueError:
        return document


def _after(request: Request) -> str | None:
    return request.query_params.get("after", "")[:MAX_NAME] or None


async def list_users(request: Request) -> Response:
    current = await visit(request)
    users = await current.console.iam.users(current.principal, _after(request))
    return page(request, current, "iam_users.html", section="iam", kind="users", items=users)


async def list_roles(request: Request) -> Response:
    current = await visit(request)
    roles = await current.console.iam.roles(current.principal, _after(request))
    return page(request, current, "iam_roles.html", section="iam", kind="roles", items=roles)


async def list_policies(request: Request) -> Response:
    current = await visit(request)
    policies = await current.console.iam.policies(current.principal, _after(request))
    return page(
        request,
        current,
        "iam_policies.html",
        section="iam",
        kind="policies",
        items=policies,
        quote=quote,
    )


async def get_user(request: Request) -> Response:
    current = await visit(request)
    name = request.path_params["name"][:MAX_NAME]
    details = await current.console.iam.user(current.principal, name)
    return page(
        request, current, "iam_user.html", section="iam", kind="users", d=details, pretty=pretty
    )


async def get_role(request: Request) -> Response:
    current = await visit(request)
    name = request.path_params["name"][:MAX_NAME]
    details = await current.console.iam.role(current.principal, name)
    return page(
        request, current, "iam_role.html", section="iam", kind="roles", d=details, pretty=pretty
    )


async def get_policy(request: Request) -> Response:
    current = await visit(request)
    arn = request.query_params.get("arn", "")[:2048]
    details = await current.console.iam.policy(current.principal, arn)
    return page(
        request,
        current,
        "iam_policy.html",
        section="iam",
        kind="policies",
        d=details,
        pretty=pretty,
    )
