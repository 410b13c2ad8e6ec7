"""The IAM and STS APIs (AWS Query, XML replies) at ``POST /``."""

from __future__ import annotations

import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from berth.api.aws import AwsContext

__all__ = ["query_app"]


async def _not_yet(request: Request) -> Response:
    request_id = str(uuid.uuid4())
    body = (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
        "<Type>Sender</Type><Code>InvalidAction</Code>"
        "<Message>The IAM and STS APIs are not served yet.</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return Response(body, status_code=400, media_type="text/xml")


def query_app(context: AwsContext) -> Starlette:
    app = Starlette(routes=[Route("/", _not_yet, methods=["POST"])])
    app.state.aws = context
    return app
