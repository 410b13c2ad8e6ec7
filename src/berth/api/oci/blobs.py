"""Blob handlers: head_blob, get_blob (with Range), delete_blob."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from berth.api.download_urls import DOWNLOAD_PATH
from berth.api.oci.context import authorize, context_of, download_base, repository_of
from berth.errors import BlobUnknownError, RangeInvalidError
from berth.types import Digest

__all__ = ["delete_blob", "get_blob", "head_blob", "parse_range"]

_RANGE_RE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
_OCTET = "application/octet-stream"
REDIRECT_TTL_SECONDS = 20 * 60
_BEYOND_ANY_BLOB = 10**18


def _offset(text: str) -> int:
    """A range bound; Fix: a bound over Python's 4300-digit int limit was a 500."""
    digits = text.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else _BEYOND_ANY_BLOB


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end_exclusive)`` for a single satisfiable range, None for the whole blob."""
    if header is None:
        return None
    match = _RANGE_RE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        start, end = max(size - _offset(last), 0), size
    else:
        start = _offset(first)
        end = size if last == "" else min(_offset(last) + 1, size)
    if start >= size or start >= end:
        raise RangeInvalidError(
            f"range {header[:100]!r} is not satisfiable for a blob of {size} bytes",
            detail={"size": size},
        )
    return start, end


async def head_blob(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:BatchCheckLayerAvailability", name)
    digest = Digest.parse(request.path_params["digest"])
    repository = await services.repositories.get(name)
    blob = await services.uploads.blob(repository, digest)
    headers = {
        "Content-Length": str(blob.size),
        "Docker-Content-Digest": blob.digest,
        "Content-Type": _OCTET,
        "Accept-Ranges": "bytes",
    }
    return Response(status_code=200, headers=headers)


async def get_blob(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:GetDownloadUrlForLayer", name)
    digest = Digest.parse(request.path_params["digest"])
    repository = await services.repositories.get(name)
    blob = await services.uploads.blob(repository, digest)
    byte_range = parse_range(request.headers.get("range"), blob.size)
    headers = {"Docker-Content-Digest": blob.digest, "Accept-Ranges": "bytes"}
    if byte_range is None and context.blob_redirect:
        url = await services.blobs.presigned_url(digest, REDIRECT_TTL_SECONDS)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers=headers)
    if byte_range is None and (base := download_base(request, context)) is not None:
        token = await services.downloads.sign(name, blob.digest, REDIRECT_TTL_SECONDS)
        return RedirectResponse(f"{base}{DOWNLOAD_PATH}{token}", status_code=307, headers=headers)
    if byte_range is None:
        path = services.blobs.local_path(digest)
        if path is not None:
            return FileResponse(path, media_type=_OCTET, headers=headers, stat_result=None)
        headers["Content-Length"] = str(blob.size)
        return StreamingResponse(
            services.blobs.read_blob(digest), media_type=_OCTET, headers=headers
        )
    start, end = byte_range
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{blob.size}"
    headers["Content-Length"] = str(end - start)
    stream = services.blobs.read_blob(digest, start, end)
    return StreamingResponse(stream, status_code=206, media_type=_OCTET, headers=headers)


async def delete_blob(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:BatchDeleteImage", name)
    digest = Digest.parse(request.path_params["digest"])
    repository = await services.repositories.get(name)
    if not await services.uploads.unlink(repository, digest):
        raise BlobUnknownError(
            f"blob unknown to registry: {digest}", detail={"digest": str(digest)}
        )
    return Response(status_code=202, headers={"Content-Length": "0"})
