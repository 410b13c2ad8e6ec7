"""The AWS front door, ``POST /``: one listener, three APIs told apart as AWS tells them.

The SigV4 credential scope names the service (``ecr``, ``iam``, ``sts``); an unsigned request
is routed by its shape (``X-Amz-Target`` means the ECR JSON API, a form body the Query APIs) so
that it gets the right error in the right format.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

__all__ = ["ASGIApp", "AwsFrontDoor", "service_of_scope"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

_CREDENTIAL = "Credential="


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _scope_service(credential: str) -> str | None:
    parts = credential.split("/")
    return parts[3] if len(parts) >= 5 else None


def service_of_scope(scope: Scope) -> str | None:
    """The SigV4 service the request was signed for, or None when it is not signed."""
    authorization = _header(scope, b"authorization")
    if authorization and _CREDENTIAL in authorization:
        credential = authorization.split(_CREDENTIAL, 1)[1].split(",", 1)[0].strip()
        return _scope_service(credential)
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    credentials = query.get("X-Amz-Credential")
    return _scope_service(credentials[0]) if credentials else None


class AwsFrontDoor:
    """Sends ECR JSON requests to ``ecr`` and IAM/STS Query requests to ``query``."""

    def __init__(self, ecr: ASGIApp, query: ASGIApp) -> None:
        self.ecr = ecr
        self.query = query

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        service = service_of_scope(scope)
        if service is None:
            service = "ecr" if _header(scope, b"x-amz-target") is not None else "query"
        await (self.ecr if service == "ecr" else self.query)(scope, receive, send)
