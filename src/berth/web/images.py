"""An image's page: manifest, platforms, layers, config and referrers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from berth.types import RepositoryName, parse_reference
from berth.web.context import registry_host
from berth.web.guard import page, visit
from berth.web.repositories import repository_url

__all__ = ["get_image", "image_url"]


def image_url(name: str, reference: str) -> str:
    return repository_url(name, f"/-/images/{reference}")


async def get_image(request: Request) -> Response:
    current = await visit(request)
    console = current.console
    name = RepositoryName(request.path_params["name"])
    reference = parse_reference(request.path_params["reference"])
    await console.catalog.repository(current.principal, name)
    repository = await console.services.repositories.get(name)
    details = await console.details.inspect(current.principal, repository, reference)
    tag = details.tags[0] if details.tags else None
    pull = f"{registry_host(request, console)}/{name}"
    pull += f":{tag}" if tag else f"@{details.manifest.digest}"
    return page(
        request,
        current,
        "image.html",
        section="repositories",
        details=details,
        reference=str(reference),
        pull_command=f"docker pull {pull}",
        repository_url=repository_url,
        image_url=image_url,
    )
