"""The ECR API (AWS JSON 1.1) at ``POST /``."""

from __future__ import annotations

import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from berth.api.aws import AwsContext

__all__ = ["ecr_app"]


async def _not_yet(request: Request) -> Response:
    body = {"__type": "UnknownOperationException", "message": "The ECR API is not served yet."}
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    return JSONResponse(
        body, status_code=400, headers=headers, media_type="application/x-amz-json-1.1"
    )


def ecr_app(context: AwsContext) -> Starlette:
    app = Starlette(routes=[Route("/", _not_yet, methods=["POST"])])
    app.state.aws = context
    return app
