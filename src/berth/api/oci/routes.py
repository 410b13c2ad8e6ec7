"""The registry surface: every /v2 route in one block, method + path -> handler."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route

from berth.api.oci import blobs, downloads, listings, manifests, uploads
from berth.api.oci.context import RegistryContext
from berth.api.oci.render import (
    render_disconnect,
    render_error,
    render_http_error,
    render_unexpected,
)
from berth.errors import BerthError

__all__ = ["ROUTES", "registry_app"]

_NAME = "/{name:path}"

ROUTES = [
    Route(_NAME + "/manifests/{reference}", manifests.head_manifest, methods=["HEAD"]),
    Route(_NAME + "/manifests/{reference}", manifests.get_manifest, methods=["GET"]),
    Route(_NAME + "/blobs/{digest}", blobs.head_blob, methods=["HEAD"]),
    Route(_NAME + "/blobs/{digest}", blobs.get_blob, methods=["GET"]),
    Route(_NAME + "/manifests/{reference}", manifests.put_manifest, methods=["PUT"]),
    Route(_NAME + "/manifests/{reference}", manifests.delete_manifest, methods=["DELETE"]),
    Route(_NAME + "/blobs/{digest}", blobs.delete_blob, methods=["DELETE"]),
    Route(_NAME + "/blobs/uploads/", uploads.start_upload, methods=["POST"]),
    Route(_NAME + "/blobs/uploads/{upload_id}", uploads.get_upload, methods=["GET"]),
    Route(_NAME + "/blobs/uploads/{upload_id}", uploads.patch_upload, methods=["PATCH"]),
    Route(_NAME + "/blobs/uploads/{upload_id}", uploads.complete_upload, methods=["PUT"]),
    Route(_NAME + "/blobs/uploads/{upload_id}", uploads.cancel_upload, methods=["DELETE"]),
    Route(_NAME + "/tags/list", listings.list_tags, methods=["GET"]),
    Route(_NAME + "/referrers/{digest}", listings.list_referrers, methods=["GET"]),
    Route("/_catalog", listings.get_catalog, methods=["GET"]),
    Route("/_downloads/{token}", downloads.get_download, methods=["GET"]),
    Route("/", listings.get_base, methods=["GET", "HEAD"]),
]
"""Pulls first: Starlette tries routes in order, and no path matches two of these patterns (the
last one or two segments tell them apart), so the order only decides how many it tries. A HEAD
route stays before its GET route, which would also answer HEAD."""


def registry_app(context: RegistryContext) -> Starlette:
    app = Starlette(
        routes=ROUTES,
        exception_handlers={
            BerthError: render_error,
            ClientDisconnect: render_disconnect,
            HTTPException: render_http_error,
            Exception: render_unexpected,
        },
    )
    app.state.registry = context
    return app
