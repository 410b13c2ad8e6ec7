"""Upload handlers: start_upload (session, monolithic, mount), patch_upload, complete_upload,
get_upload, cancel_upload.

With the upload port on (``berth.api.upload_port``), an upload's ``Location`` is a signed URL on
that port, and the client sends its PATCHes and the closing PUT there.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from berth.api.download_urls import UPLOAD_PATH
from berth.api.oci.context import (
    RegistryContext,
    authorize,
    context_of,
    repository_of,
    upload_base,
)
from berth.errors import BerthError, BlobUploadInvalidError, DigestInvalidError
from berth.meta.base import Blob, Repository, Upload
from berth.types import Digest, Principal, RepositoryName

__all__ = [
    "cancel_upload",
    "complete_upload",
    "get_upload",
    "has_body",
    "parse_content_range",
    "patch_upload",
    "start_upload",
    "upload_headers",
]

# Fix: bounded ASCII digits; a 5000-digit bound made int() raise (a 500), now it is malformed.
_CONTENT_RANGE_RE = re.compile(r"^(?:bytes[= ])?([0-9]{1,18})-([0-9]{1,18})(?:/([0-9]{1,18}|\*))?$")


def has_body(content_length: str | None, transfer_encoding: str | None) -> bool:
    if content_length is not None:
        return content_length.strip() not in ("", "0")
    return "chunked" in (transfer_encoding or "").lower()


def _has_body(request: Request) -> bool:
    headers = request.headers
    return has_body(headers.get("content-length"), headers.get("transfer-encoding"))


def _content_range(request: Request) -> tuple[int, int] | None:
    return parse_content_range(request.headers.get("content-range"))


def parse_content_range(header: str | None) -> tuple[int, int] | None:
    """``(start, length)`` from ``Content-Range: <start>-<end>``; None when absent."""
    if header is None:
        return None
    match = _CONTENT_RANGE_RE.match(header.strip())
    if match is None:
        raise BlobUploadInvalidError(f"malformed Content-Range {header[:100]!r}")
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        raise BlobUploadInvalidError(f"malformed Content-Range {header[:100]!r}")
    return start, end - start + 1


def upload_headers(location: str, upload: Upload) -> dict[str, str]:
    return {
        "Location": location,
        "Docker-Upload-UUID": upload.id,
        "Range": f"0-{max(upload.size - 1, 0)}",
        "Content-Length": "0",
    }


async def _upload_headers(
    request: Request, context: RegistryContext, principal: Principal, name: str, upload: Upload
) -> dict[str, str]:
    """The upload's headers; its Location on the upload port when that is on."""
    base = upload_base(request, context)
    if base is None:
        return upload_headers(f"/v2/{name}/blobs/uploads/{upload.id}", upload)
    token = await context.services.downloads.sign_upload(name, upload.id, principal)
    return upload_headers(f"{base}{UPLOAD_PATH}{token}", upload)


def _created(name: str, blob: Blob) -> Response:
    headers = {
        "Location": f"/v2/{name}/blobs/{blob.digest}",
        "Docker-Content-Digest": blob.digest,
        "Content-Length": "0",
    }
    return Response(status_code=201, headers=headers)


async def _writable_repository(
    request: Request, context: RegistryContext, principal: Principal, name: RepositoryName
) -> Repository:
    services = context.services
    repository = await services.repositories.find(name)
    if repository is None:
        await authorize(request, principal, "ecr:CreateRepository", name)
        repository = await services.repositories.ensure(name)
    return repository


async def _try_mount(
    context: RegistryContext, principal: Principal, target: Repository, request: Request
) -> Blob | None:
    """Mount ``?mount=<digest>&from=<repo>`` when the caller may read it there; else None."""
    services = context.services
    try:
        digest = Digest.parse(request.query_params["mount"])
        source_name = RepositoryName(request.query_params.get("from", ""))
        await authorize(request, principal, "ecr:GetDownloadUrlForLayer", source_name)
        await authorize(request, principal, "ecr:BatchCheckLayerAvailability", source_name)
        source = await services.repositories.get(source_name)
    except BerthError:
        return None
    return await services.uploads.mount(target, source, digest)


async def start_upload(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:InitiateLayerUpload", name)
    repository = await _writable_repository(request, context, principal, name)
    if "mount" in request.query_params:
        blob = await _try_mount(context, principal, repository, request)
        if blob is not None:
            return _created(name, blob)
    digest_param = request.query_params.get("digest")
    if digest_param is not None:
        digest = Digest.parse(digest_param)
        blob = await services.uploads.upload_whole(repository, digest, request.stream())
        return _created(name, blob)
    upload = await services.uploads.start(repository)
    return Response(
        status_code=202, headers=await _upload_headers(request, context, principal, name, upload)
    )


async def patch_upload(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:UploadLayerPart", name)
    repository = await services.repositories.get(name)
    content_range = _content_range(request)
    start, length = content_range if content_range is not None else (None, None)
    upload_id = request.path_params["upload_id"]
    upload = await services.uploads.append(repository, upload_id, request.stream(), start, length)
    return Response(
        status_code=202, headers=await _upload_headers(request, context, principal, name, upload)
    )


async def complete_upload(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:CompleteLayerUpload", name)
    repository = await services.repositories.get(name)
    upload_id = request.path_params["upload_id"]
    await services.uploads.get(repository, upload_id)
    digest_param = request.query_params.get("digest")
    if not digest_param:
        raise DigestInvalidError("the digest query parameter is required to complete an upload")
    digest = Digest.parse(digest_param)
    content_range = _content_range(request)
    body = request.stream() if _has_body(request) else None
    start = None if content_range is None else content_range[0]
    blob = await services.uploads.complete(repository, upload_id, digest, body, start)
    return _created(name, blob)


async def get_upload(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:UploadLayerPart", name)
    repository = await services.repositories.get(name)
    upload = await services.uploads.get(repository, request.path_params["upload_id"])
    return Response(
        status_code=204, headers=await _upload_headers(request, context, principal, name, upload)
    )


async def cancel_upload(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:UploadLayerPart", name)
    repository = await services.repositories.get(name)
    await services.uploads.cancel(repository, request.path_params["upload_id"])
    return Response(status_code=204, headers={"Content-Length": "0"})
