"""Turn a BerthError into the OCI error JSON, its status and, for 401, the Basic challenge."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from berth.api.oci.context import realm_of
from berth.errors import (
    BerthError,
    BlobUploadInvalidError,
    RangeInvalidError,
    ServerError,
    UnauthorizedError,
    UnsupportedError,
)

__all__ = ["render_disconnect", "render_error", "render_http_error", "render_unexpected"]

log = logging.getLogger("berth.api.oci")


async def render_error(request: Request, exc: Exception) -> Response:
    error = exc if isinstance(exc, BerthError) else ServerError("internal error")
    headers: dict[str, str] = {"Docker-Distribution-API-Version": "registry/2.0"}
    # Fix: every authentication failure is a 401 with the challenge on the registry, so clients
    # log in again (an expired token was a 403 with no challenge: its AWS status).
    status = 401 if isinstance(error, UnauthorizedError) else error.status
    if status == 401:
        headers["WWW-Authenticate"] = (
            f'Basic realm="{realm_of(request)}",service="ecr.amazonaws.com"'
        )
    if isinstance(error, RangeInvalidError) and isinstance(error.detail, dict):
        size = error.detail.get("size")
        # Fix: decide by the matched route, not by "upload" in the path (a repository may be
        # named uploads/x, and its blob's 416 then lacked Content-Range).
        if "upload_id" in request.path_params:
            headers["Range"] = f"0-{max(int(size or 0) - 1, 0)}"
            headers["Location"] = request.url.path
        elif size is not None:
            headers["Content-Range"] = f"bytes */{size}"
    return JSONResponse(error.oci_body(), status_code=status, headers=headers)


async def render_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away mid-request; nothing it sent after its last acknowledgement counts."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return await render_error(request, BlobUploadInvalidError("the request body was cut short"))


async def render_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return await render_error(request, ServerError("internal error; the server log has details"))


async def render_http_error(request: Request, exc: Exception) -> Response:
    """Routing misses (no such endpoint, wrong method) in the registry's own error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    error = UnsupportedError(f"{request.method} {request.url.path[:200]} is not supported")
    response = await render_error(request, error)
    response.status_code = status
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)  # Fix: keep Allow on a 405
    return response
