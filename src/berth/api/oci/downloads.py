"""get_download: a layer through a signed, short-lived URL (``GetDownloadUrlForLayer``).

The URL is the credential: it names one blob in one repository until it expires, so the request
needs no login, as ECR's presigned layer URLs need none.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from berth.api.oci.context import context_of
from berth.types import Digest, RepositoryName

__all__ = ["get_download"]

_OCTET = "application/octet-stream"


async def get_download(request: Request) -> Response:
    context, _ = context_of(request)
    services = context.services
    grant = await services.downloads.verify(request.path_params["token"])
    repository = await services.repositories.get(RepositoryName(grant.repository))
    digest = Digest.parse(grant.digest)
    blob = await services.uploads.blob(repository, digest)
    headers = {"Docker-Content-Digest": blob.digest, "Cache-Control": "private, no-store"}
    path = services.blobs.local_path(digest)
    if path is not None:
        return FileResponse(path, media_type=_OCTET, headers=headers, stat_result=None)
    headers["Content-Length"] = str(blob.size)
    return StreamingResponse(services.blobs.read_blob(digest), media_type=_OCTET, headers=headers)
