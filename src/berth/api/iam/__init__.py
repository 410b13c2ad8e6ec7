"""The IAM and STS APIs (AWS Query, XML replies) at ``POST /``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from berth.api.aws import AwsContext
from berth.api.iam.dispatch import QueryApi

__all__ = ["query_app"]


def query_app(context: AwsContext) -> Starlette:
    app = Starlette(routes=[Route("/", QueryApi(context).handle, methods=["POST"])])
    app.state.aws = context
    return app
