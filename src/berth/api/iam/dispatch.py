"""The IAM and STS front: which service, sign-in, the operations tables, errors as AWS gives them.

The SigV4 scope names the service (``iam`` or ``sts``); an unsigned request is told apart by its
``Version`` so that its error comes in the right namespace. IAM is global: any region scope is
accepted, as is any for STS (regional endpoints).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel
from starlette.requests import Request
from starlette.responses import Response

from berth.api.aws import AwsContext, read_body, sign_in
from berth.api.front import service_of_scope
from berth.api.iam import account, credentials, policies, roles, sts, users
from berth.api.iam.call import Call, Handler
from berth.api.iam.query import QueryReader, form_params
from berth.api.iam.xml import render_error, render_result
from berth.api.metrics import label_request
from berth.errors import (
    BerthError,
    InvalidActionError,
    MissingAuthenticationTokenError,
    ServerError,
)
from berth.services.access import Origin
from berth.types import Principal

__all__ = ["IAM_OPERATIONS", "STS_OPERATIONS", "QueryApi", "Service"]

log = logging.getLogger("berth.iam")

IAM_OPERATIONS: dict[str, Handler] = {
    **users.OPERATIONS,
    **roles.OPERATIONS,
    **credentials.OPERATIONS,
    **policies.OPERATIONS,
    **account.OPERATIONS,
}
STS_OPERATIONS: dict[str, Handler] = sts.OPERATIONS
_STS_VERSION = "2011-06-15"
_XML = "text/xml"


@dataclass(frozen=True, slots=True)
class Service:
    """One Query API: its name, model, namespace and operations."""

    name: str
    model: ServiceModel
    operations: dict[str, Handler]
    reader: QueryReader = field(default_factory=QueryReader)

    @property
    def namespace(self) -> str:
        return str(self.model.metadata["xmlNamespace"])

    @property
    def version(self) -> str:
        return str(self.model.metadata["apiVersion"])

    def operation(self, action: str) -> tuple[OperationModel, Handler]:
        handler = self.operations.get(action)
        if handler is None:
            raise InvalidActionError(
                f"Could not find operation {action[:100]} for version {self.version}"
            )
        return self.model.operation_model(action), handler


class QueryApi:
    """The ASGI endpoint for ``POST /`` Query requests."""

    def __init__(self, context: AwsContext) -> None:
        session = botocore.session.get_session()
        self.context = context
        self.services = {
            "iam": Service("iam", session.get_service_model("iam"), IAM_OPERATIONS),
            "sts": Service("sts", session.get_service_model("sts"), STS_OPERATIONS),
        }

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        service = self.services["iam"]
        try:
            body = await read_body(request)
            params = form_params(body, request.url.query)
            service = self._service(request, params)
            _label(request, service, params.get("Action", ""))
            text = await self._handle(request, body, params, service, request_id)
        except BerthError as error:
            return _error(error, request_id, service)
        except Exception:  # never a traceback on the wire
            log.exception("IAM/STS request %s failed", request_id)
            return _error(ServerError("We encountered an internal error."), request_id, service)
        return Response(text, media_type=_XML, headers={"x-amzn-RequestId": request_id})

    def _service(self, request: Request, params: dict[str, str]) -> Service:
        signed = service_of_scope(request.scope)
        if signed in self.services:
            return self.services[signed]
        return self.services["sts" if params.get("Version") == _STS_VERSION else "iam"]

    async def _handle(
        self,
        request: Request,
        body: bytes,
        params: dict[str, str],
        service: Service,
        request_id: str,
    ) -> str:
        principal = await self._sign_in(request, body, service)
        operation, handler = service.operation(params.get("Action", ""))
        values = service.reader.read(operation.input_shape, params)
        call = Call(
            principal,
            values,
            self.context.services,
            self.context.account,
            _origin(request, request_id),
        )
        result = await handler(call)
        return render_result(operation, result, request_id, service.namespace)

    async def _sign_in(self, request: Request, body: bytes, service: Service) -> Principal:
        if service_of_scope(request.scope) is None and not _signed(request):
            raise MissingAuthenticationTokenError("Request is missing Authentication Token")
        principal, _ = await sign_in(
            request, body, self.context, service=service.name, query_api=True, region=None
        )
        return principal


def _label(request: Request, service: Service, action: str) -> None:
    label_request(
        request.scope, service.name, action if action in service.operations else "unknown"
    )


def _signed(request: Request) -> bool:
    return "authorization" in request.headers or "X-Amz-Credential" in request.query_params


def _origin(request: Request, request_id: str) -> Origin:
    host = request.client.host if request.client is not None else ""
    return Origin(host, request_id, request.url.scheme == "https")


def _error(error: BerthError, request_id: str, service: Service) -> Response:
    body = render_error(error, request_id, service.namespace)
    headers: dict[str, Any] = {"x-amzn-RequestId": request_id}
    return Response(body, status_code=error.status, media_type=_XML, headers=headers)
