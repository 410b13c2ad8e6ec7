"""Who is visiting: the session behind a request, checked again on every request, and forms that
must carry the session's CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse

from berth.errors import PayloadTooLargeError, ValidationError
from berth.types import Principal, PrincipalKind
from berth.web.context import Console, console_of
from berth.web.sessions import SESSION_COOKIE, Session

__all__ = ["CsrfError", "SignInRequiredError", "Visit", "form_of", "page", "read_form", "visit"]

MAX_FORM_BYTES = 256 * 1024
MAX_FIELDS = 50


class SignInRequiredError(Exception):
    """No valid session: the visitor is sent to the sign-in page."""


class CsrfError(Exception):
    """A POST without this session's CSRF token, or from another site."""


@dataclass(frozen=True, slots=True)
class Visit:
    console: Console
    session: Session
    principal: Principal
    csrf: str
    show_iam: bool


async def visit(request: Request) -> Visit:
    """The signed-in visitor, or SignInRequiredError."""
    console = console_of(request)
    session = console.sessions.read(request.cookies.get(SESSION_COOKIE))
    principal = None if session is None else await _still_valid(console, session)
    if session is None or principal is None:
        raise SignInRequiredError()
    return Visit(
        console=console,
        session=session,
        principal=principal,
        csrf=console.sessions.csrf_token(session),
        show_iam=await console.iam.may_list(principal),
    )


async def _still_valid(console: Console, session: Session) -> Principal | None:
    """The principal, while its access key is active or its IAM user exists."""
    principal = session.principal
    if session.via == "password":
        exists = await console.sign_in.user_exists(principal.user_id)
        return principal if principal.kind is PrincipalKind.USER and exists else None
    found = await console.credentials.find(principal.access_key_id)
    if found is None or not found.key.active or found.principal.arn != principal.arn:
        return None
    expires = found.key.expires_at
    if expires is not None and expires <= datetime.now(UTC):
        return None
    return found.principal


async def read_form(request: Request) -> dict[str, str]:
    """A url-encoded form body (at most 256 KiB and 50 fields); the last of repeated fields."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_FORM_BYTES:
            raise PayloadTooLargeError(f"the form is over {MAX_FORM_BYTES} bytes")
        chunks.append(chunk)
    text = b"".join(chunks).decode("utf-8", "replace")
    try:
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except ValueError:
        raise ValidationError(f"the form has more than {MAX_FIELDS} fields") from None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def form_of(request: Request, current: Visit) -> dict[str, str]:
    """The form of a POST that carries this session's CSRF token (field or X-CSRF-Token)."""
    fields = await read_form(request)
    token = request.headers.get("x-csrf-token") or fields.get("csrf_token")
    if not _same_origin(request) or not current.console.sessions.check_csrf(current.session, token):
        raise CsrfError()
    return fields


def page(
    request: Request, current: Visit, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """A signed-in page: the template with the visitor, the CSRF token and the navigation."""
    context.update(
        principal=current.principal,
        csrf=current.csrf,
        show_iam=current.show_iam,
        section=context.get("section", ""),
        path=request.url.path,
    )
    return current.console.renderer.page(template, context, status)
