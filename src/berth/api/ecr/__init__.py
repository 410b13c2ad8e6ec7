"""The ECR API (AWS JSON 1.1) at ``POST /``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from berth.api.aws import AwsContext
from berth.api.ecr.dispatch import EcrState, handle
from berth.api.ecr.shapes import EcrModel

__all__ = ["ecr_app"]


def ecr_app(context: AwsContext) -> Starlette:
    app = Starlette(routes=[Route("/", handle, methods=["POST"])])
    app.state.aws = context
    app.state.ecr = EcrState(context, EcrModel())
    return app
