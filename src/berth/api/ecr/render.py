"""ECR replies: a JSON 1.1 body, and for an error ``{"__type", "message"}`` with the catalogue's
status; ``x-amzn-RequestId`` on every one."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from berth.errors import BerthError

__all__ = ["CONTENT_TYPE", "render_error", "render_reply"]

CONTENT_TYPE = "application/x-amz-json-1.1"


def _response(body: dict[str, Any], status: int, request_id: str) -> Response:
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = {"x-amzn-RequestId": request_id}
    return Response(content, status_code=status, headers=headers, media_type=CONTENT_TYPE)


def render_reply(body: dict[str, Any], request_id: str) -> Response:
    return _response(body, 200, request_id)


def render_error(error: BerthError, request_id: str) -> Response:
    body = {"__type": error.aws_type, "message": error.message}
    return _response(body, error.status, request_id)
