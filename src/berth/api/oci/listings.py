"""Listing handlers: get_base, list_tags, list_referrers, get_catalog."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from berth.api.oci.context import authorize, context_of, next_link, page_of, repository_of
from berth.domain.mediatypes import OCI_INDEX
from berth.errors import UnauthorizedError
from berth.types import Digest

__all__ = ["get_base", "get_catalog", "list_referrers", "list_tags"]


async def get_base(request: Request) -> Response:
    _, principal = context_of(request)
    if principal.is_anonymous:
        raise UnauthorizedError("authentication required")
    return JSONResponse({})


async def list_tags(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:ListImages", name)
    page = page_of(request)
    repository = await services.repositories.get(name)
    limit = None if page.limit is None else page.limit + 1
    tags = [] if page.limit == 0 else await services.images.tags(repository, page.after, limit)
    headers = {}
    if page.limit is not None and len(tags) > page.limit:
        tags = tags[: page.limit]
        headers["Link"] = next_link(f"/v2/{name}/tags/list", page.limit, tags[-1])
    return JSONResponse({"name": str(name), "tags": tags}, headers=headers)


async def list_referrers(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:BatchGetImage", name)
    subject = Digest.parse(request.path_params["digest"])
    artifact_type = request.query_params.get("artifactType") or None
    repository = await services.repositories.get(name)
    body = await services.images.referrers(repository, subject, artifact_type)
    headers = {} if artifact_type is None else {"OCI-Filters-Applied": "artifactType"}
    return Response(body, media_type=OCI_INDEX, headers=headers)


async def get_catalog(request: Request) -> Response:
    """Repositories the caller may describe, in name order, paginated with n and last."""
    context, principal = context_of(request)
    services = context.services
    if principal.is_anonymous:
        raise UnauthorizedError("authentication required")
    page = page_of(request)
    names: list[str] = []
    after = page.after
    want = None if page.limit is None else page.limit + 1
    while page.limit != 0 and (want is None or len(names) < want):
        batch = await services.repositories.list(after, 1000)
        for repository in batch:
            if await services.access.allows_on(principal, "ecr:DescribeRepositories", repository):
                names.append(repository.name)
        if len(batch) < 1000:
            break
        after = batch[-1].name
    headers = {}
    if page.limit is not None and len(names) > page.limit:
        names = names[: page.limit]
        headers["Link"] = next_link("/v2/_catalog", page.limit, names[-1])
    return JSONResponse({"repositories": names}, headers=headers)
