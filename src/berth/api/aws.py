"""What the AWS API surfaces (ECR JSON, IAM/STS Query) share: their context and SigV4 sign-in."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from berth.auth.credentials import CredentialStore, authenticate
from berth.auth.sigv4 import SignedRequest, VerifiedCaller
from berth.auth.tokens import IssuedToken
from berth.errors import ValidationError
from berth.services import Services
from berth.types import Principal

__all__ = ["MAX_AWS_BODY", "AwsContext", "read_body", "sign_in", "signed_request"]

MAX_AWS_BODY = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AwsContext:
    services: Services
    credentials: CredentialStore
    account: str
    region: str
    public_url: str | None
    issue_token: Callable[[Principal], IssuedToken]
    clock: Callable[[], datetime]
    download_port: int | None = None
    download_url: str | None = None


async def read_body(request: Request) -> bytes:
    """The whole body (AWS API bodies are small); refuses more than MAX_AWS_BODY."""
    parts: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_AWS_BODY:
            raise ValidationError(f"the request body is over {MAX_AWS_BODY} bytes")
        parts.append(chunk)
    return b"".join(parts)


def signed_request(request: Request, body: bytes) -> SignedRequest:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
    return SignedRequest(
        method=request.method,
        path=raw_path.decode("latin-1").split("?", 1)[0],
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


async def sign_in(
    request: Request,
    body: bytes,
    context: AwsContext,
    *,
    service: str,
    query_api: bool,
    region: str | None,
) -> tuple[Principal, VerifiedCaller]:
    """Verify the request's SigV4 signature for ``service``; the caller's principal or the error."""
    principal, caller = await authenticate(
        signed_request(request, body),
        context.credentials,
        now=context.clock(),
        expected_service=service,
        region=region,
        query_api=query_api,
    )
    await context.services.identities.record_key_use(
        caller.access_key_id, caller.service, caller.region
    )
    return principal, caller
