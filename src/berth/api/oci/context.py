"""What a handler needs from the request: services, caller, repository name, pagination."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request

from berth.api.download_urls import port_base
from berth.auth.middleware import principal_from_scope
from berth.errors import PaginationInvalidError
from berth.services import Services
from berth.services.access import Origin
from berth.types import Principal, RepositoryName

__all__ = [
    "Page",
    "RegistryContext",
    "authorize",
    "context_of",
    "download_base",
    "origin_of",
    "page_of",
    "realm_of",
    "repository_of",
    "upload_base",
]

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class RegistryContext:
    services: Services
    public_url: str | None
    blob_redirect: bool = False
    download_port: int | None = None
    """Where ``berth serve`` sends whole blobs itself (``berth.api.download_port``)."""
    download_url: str | None = None
    """The download port's address as clients reach it, when not this host at that port."""
    upload_port: int | None = None
    """Where ``berth serve`` takes upload bodies itself (``berth.api.upload_port``)."""
    upload_url: str | None = None
    """The upload port's address as clients reach it, when not this host at that port."""


@dataclass(frozen=True, slots=True)
class Page:
    limit: int | None
    after: str | None


def download_base(request: Request, context: RegistryContext) -> str | None:
    """Where this client reaches the download port, or None when it is off."""
    return _side_base(request, context.download_port, context.download_url)


def upload_base(request: Request, context: RegistryContext) -> str | None:
    """Where this client reaches the upload port, or None when it is off."""
    return _side_base(request, context.upload_port, context.upload_url)


def _side_base(request: Request, port: int | None, url: str | None) -> str | None:
    return port_base(request.headers.get("host", ""), request.scope.get("server"), port, url)


def context_of(request: Request) -> tuple[RegistryContext, Principal]:
    context: RegistryContext = request.app.state.registry
    return context, principal_from_scope(request.scope)


def origin_of(request: Request) -> Origin:
    client = request.client
    return Origin(
        source_ip=client.host if client is not None else "",
        request_id=request.headers.get("x-request-id", ""),
        secure_transport=request.scope.get("scheme") == "https",
    )


async def authorize(request: Request, principal: Principal, action: str, name: str) -> None:
    """The one authorization call of a handler: ``action`` on the repository ``name``."""
    access = context_of(request)[0].services.access
    await access.authorize(
        principal, action, access.repository_arn(name), origin=origin_of(request)
    )


def repository_of(request: Request) -> RepositoryName:
    return RepositoryName(request.path_params["name"])


def realm_of(request: Request) -> str:
    context: RegistryContext | None = getattr(request.app.state, "registry", None)
    if context is not None and context.public_url:
        return context.public_url.rstrip("/") + "/"
    return f"{request.url.scheme}://{request.url.netloc}/"


def page_of(request: Request) -> Page:
    """``n`` and ``last``: n capped at 1000 (a Link header says there is more)."""
    n = request.query_params.get("n") or None  # Fix: an empty n is no n (was 400)
    last = request.query_params.get("last") or None
    if n is None:
        return Page(None, last)
    # Fix: isdigit() passed "²" and int() refused it, or a 5000-digit n: both were 500s.
    if not n.isascii() or not n.isdigit():
        raise PaginationInvalidError(f"n must be a non-negative integer, not {n[:50]!r}")
    significant = n.lstrip("0")
    return Page(MAX_PAGE if len(significant) > 4 else min(int(n), MAX_PAGE), last)


def next_link(path: str, limit: int, last: str) -> str:
    return f'<{path}?n={limit}&last={quote(last, safe="")}>; rel="next"'
