"""The repository list and a repository's page: its images, its policy and its lifecycle policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from berth.errors import BerthError, DeniedError, UnauthorizedError
from berth.meta.base import Repository
from berth.meta.catalog import RepositorySort
from berth.services.catalog import RepositoryQuery
from berth.types import RepositoryName
from berth.web.context import registry_host
from berth.web.guard import Visit, form_of, page, visit

__all__ = [
    "delete_repository_policy",
    "get_repository",
    "list_repositories",
    "preview_lifecycle",
    "put_lifecycle_policy",
    "put_repository_policy",
    "repository_url",
]

PAGE_SIZES = (25, 50, 100, 200)
MAX_OFFSET = 10_000_000
MAX_SEARCH = 256
NOTICES = {
    "policy-saved": "Repository policy saved.",
    "policy-deleted": "Repository policy deleted.",
    "lifecycle-saved": "Lifecycle policy saved.",
}


def repository_url(name: str, suffix: str = "") -> str:
    return f"/ui/repositories/{quote(name)}{suffix}"


def int_param(request: Request, name: str, default: int, high: int) -> int:
    text = request.query_params.get(name, "")
    if not text.isdigit() or len(text) > 9:
        return default
    return min(int(text), high)


def _query(request: Request) -> RepositoryQuery:
    params = request.query_params
    sorts = {sort.value: sort for sort in RepositorySort}
    sort = sorts.get(params.get("sort", ""), RepositorySort.NAME)
    default_order = "asc" if sort is RepositorySort.NAME else "desc"
    size = int_param(request, "n", 50, PAGE_SIZES[-1])
    return RepositoryQuery(
        search=params.get("q", "").strip().lower()[:MAX_SEARCH],
        sort=sort,
        descending=params.get("order", default_order) == "desc",
        offset=int_param(request, "offset", 0, MAX_OFFSET),
        limit=size if size in PAGE_SIZES else 50,
    )


def _link(query: RepositoryQuery, **changes: Any) -> str:
    values: dict[str, Any] = {
        "q": query.search,
        "sort": query.sort.value,
        "order": "desc" if query.descending else "asc",
        "n": query.limit,
        "offset": query.offset,
    }
    values.update(changes)
    kept = {key: value for key, value in values.items() if value not in ("", 0, None)}
    return "/ui/repositories?" + urlencode(kept)


def _sort_link(query: RepositoryQuery, sort: RepositorySort) -> str:
    """The current column flips its order; another starts with its natural order."""
    if sort is query.sort:
        order = "asc" if query.descending else "desc"
    else:
        order = "asc" if sort is RepositorySort.NAME else "desc"
    return _link(query, sort=sort.value, order=order, offset=0)


async def list_repositories(request: Request) -> Response:
    current = await visit(request)
    query = _query(request)
    listing = await current.console.catalog.repositories(current.principal, query)
    next_link = None if listing.next_offset is None else _link(query, offset=listing.next_offset)
    sort_links = {sort.value: _sort_link(query, sort) for sort in RepositorySort}
    return page(
        request,
        current,
        "repositories.html",
        section="repositories",
        query=query,
        items=listing.items,
        next_link=next_link,
        first_link=_link(query, offset=0) if query.offset else None,
        sort_links=sort_links,
        repository_url=repository_url,
    )


async def _repository_page(
    request: Request, current: Visit, status: int = 200, **panels: Any
) -> Response:
    console, principal = current.console, current.principal
    name = RepositoryName(request.path_params["name"])
    summary = await console.catalog.repository(principal, name)
    repository = await console.services.repositories.get(name)
    images, refusal = None, ""
    try:
        images = await console.catalog.images(
            principal,
            summary,
            tag=request.query_params.get("tag", "").strip()[:128],
            offset=int_param(request, "offset", 0, MAX_OFFSET),
        )
    except (DeniedError, UnauthorizedError) as error:
        refusal = error.message
    context: dict[str, Any] = {
        "section": "repositories",
        "summary": summary,
        "repository": repository,
        "images": images,
        "images_refusal": refusal,
        "tag_filter": request.query_params.get("tag", "").strip()[:128],
        "host": registry_host(request, console),
        "policy": await console.policies.repository_policy(principal, repository),
        "lifecycle": await console.policies.lifecycle_policy(principal, repository),
        "notice": NOTICES.get(request.query_params.get("notice", ""), ""),
        "notice_panel": request.query_params.get("notice", "").partition("-")[0],
        "repository_url": repository_url,
        "policy_error": "",
        "policy_draft": None,
        "lifecycle_error": "",
        "lifecycle_draft": None,
        "preview": None,
    }
    context.update(panels)
    return page(request, current, "repository.html", status, **context)


async def get_repository(request: Request) -> Response:
    return await _repository_page(request, await visit(request))


Action = Callable[[Visit, Repository, dict[str, str]], Awaitable[str]]


async def _act(request: Request, panel: str, action: Action, draft_field: str) -> Response:
    """Run a form's action; on success go back to the page, else show the panel's error."""
    current = await visit(request)
    fields = await form_of(request, current)
    name = RepositoryName(request.path_params["name"])
    await current.console.catalog.repository(current.principal, name)
    repository = await current.console.services.repositories.get(name)
    try:
        notice = await action(current, repository, fields)
    except BerthError as error:
        panels = {f"{panel}_error": error.message, f"{panel}_draft": fields.get(draft_field)}
        return await _repository_page(request, current, error.status, **panels)
    return RedirectResponse(repository_url(name, f"?notice={notice}#{panel}"), status_code=303)


async def _set_policy(current: Visit, repository: Repository, fields: dict[str, str]) -> str:
    text = fields.get("policy_text", "")
    await current.console.policies.set_repository_policy(current.principal, repository, text)
    return "policy-saved"


async def _delete_policy(current: Visit, repository: Repository, fields: dict[str, str]) -> str:
    await current.console.policies.delete_repository_policy(current.principal, repository)
    return "policy-deleted"


async def _set_lifecycle(current: Visit, repository: Repository, fields: dict[str, str]) -> str:
    text = fields.get("lifecycle_text", "")
    await current.console.policies.set_lifecycle_policy(current.principal, repository, text)
    return "lifecycle-saved"


async def put_repository_policy(request: Request) -> Response:
    return await _act(request, "policy", _set_policy, "policy_text")


async def delete_repository_policy(request: Request) -> Response:
    return await _act(request, "policy", _delete_policy, "policy_text")


async def put_lifecycle_policy(request: Request) -> Response:
    return await _act(request, "lifecycle", _set_lifecycle, "lifecycle_text")


async def preview_lifecycle(request: Request) -> Response:
    """Evaluate the draft (or the stored policy) now and show what it would expire."""
    current = await visit(request)
    fields = await form_of(request, current)
    name = RepositoryName(request.path_params["name"])
    await current.console.catalog.repository(current.principal, name)
    repository = await current.console.services.repositories.get(name)
    draft = fields.get("lifecycle_text") or None
    try:
        preview = await current.console.policies.preview(current.principal, repository, draft)
    except BerthError as error:
        panels = {"lifecycle_error": error.message, "lifecycle_draft": draft}
        return await _repository_page(request, current, error.status, **panels)
    return await _repository_page(request, current, preview=preview, lifecycle_draft=draft)
