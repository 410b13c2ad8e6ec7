"""Sign in (an access key pair or an IAM user's console password) and sign out."""

from __future__ import annotations

import hmac
import math
from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from berth.errors import UnauthorizedError
from berth.services.sign_in_throttle import SignInAttempt, client_network
from berth.types import Principal
from berth.web.context import Console, console_of
from berth.web.guard import SignInRequiredError, form_of, read_form, visit
from berth.web.sessions import (
    DEVICE_COOKIE,
    DEVICE_SECONDS,
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
)

__all__ = ["get_login", "post_login", "post_logout", "safe_next"]

_WRONG = "Your authentication information is incorrect. Please try again."
_EXPIRED = "The sign-in form expired. Please try again."
HOME = "/ui/"
SIGN_IN_ACTION = "signin:ConsoleLogin"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only, never another site."""
    if not target or not target.startswith("/ui/") or "//" in target or "\\" in target:
        return HOME
    return target


def _set_cookie(
    request: Request, response: Response, name: str, value: str, age: int, *, path: str = "/ui"
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _login_page(
    request: Request, console: Console, error: str = "", status: int = 200, **fields: str
) -> Response:
    cookie, token = console.sessions.login_cookie()
    context = {
        "error": error,
        "token": token,
        "next": safe_next(request.query_params.get("next") or fields.get("next")),
        "method": fields.get("method", "key"),
        "access_key_id": fields.get("access_key_id", ""),
        "user_name": fields.get("user_name", ""),
    }
    response = console.renderer.page("login.html", context, status)
    _set_cookie(request, response, LOGIN_COOKIE, cookie, LOGIN_SECONDS)
    return response


async def get_login(request: Request) -> Response:
    console = console_of(request)
    try:
        await visit(request)
    except SignInRequiredError:
        return _login_page(request, console)
    return RedirectResponse(HOME, status_code=303)


async def post_login(request: Request) -> Response:
    console = console_of(request)
    fields = await read_form(request)
    if not console.sessions.check_login(request.cookies.get(LOGIN_COOKIE), fields.get("token")):
        return _login_page(request, console, _EXPIRED, 400, **_kept(fields))
    throttle = console.services.sign_in_throttle
    attempt = _attempt(request, console, fields)
    retry_at = await throttle.admit(attempt)
    if retry_at is not None:
        return _throttled(request, console, fields, attempt, retry_at)
    try:
        principal, via = await _principal(console, fields)
    except UnauthorizedError as error:
        _audit(request, attempt, "*", "invalid-credentials", error.message)
        return _login_page(request, console, error.message, 401, **_kept(fields))
    await throttle.succeeded(attempt)
    _audit(request, attempt, principal.arn, "allow", f"signed in with {via}")
    response = RedirectResponse(safe_next(fields.get("next")), status_code=303)
    cookie = console.sessions.issue(principal, via)
    _set_cookie(request, response, SESSION_COOKIE, cookie, console.sessions.ttl)
    device = console.sessions.device_cookie(attempt.identity)
    _set_cookie(request, response, DEVICE_COOKIE, device, DEVICE_SECONDS, path="/ui/login")
    response.delete_cookie(LOGIN_COOKIE, path="/ui")
    return response


def _attempt(request: Request, console: Console, fields: dict[str, str]) -> SignInAttempt:
    """Who the form names (as ``_principal`` reads it) and where it comes from."""
    if fields.get("method") == "password":
        identity = "user:" + fields.get("user_name", "").strip().lower()
    else:
        identity = "key:" + fields.get("access_key_id", "").strip()
    known = console.sessions.known_device(request.cookies.get(DEVICE_COOKIE), identity)
    return SignInAttempt(identity, client_network(_client(request)), known)


def _client(request: Request) -> str:
    """The client's address (the real client's behind ``trusted_proxies``), as the API's."""
    return request.client.host if request.client is not None else ""


def _throttled(
    request: Request,
    console: Console,
    fields: dict[str, str],
    attempt: SignInAttempt,
    retry_at: datetime,
) -> Response:
    seconds = max(
        math.ceil((retry_at - console.services.sign_in_throttle.clock()).total_seconds()), 1
    )
    message = (
        "Too many failed sign-in attempts. Try again in "
        f"{_duration(seconds)} (after {retry_at:%H:%M:%S} UTC)."
    )
    _audit(request, attempt, "*", "throttled", message)
    response = _login_page(request, console, message, 429, **_kept(fields))
    response.headers["Retry-After"] = str(seconds)
    return response


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _audit(
    request: Request,
    attempt: SignInAttempt,
    principal: str,
    outcome: str,
    message: str,
) -> None:
    """A console sign-in in the audit log, as CloudTrail's ConsoleLogin event: the identity the
    form named is the resource, since a failed attempt proves no principal."""
    console_of(request).services.audit.record(
        principal,
        SIGN_IN_ACTION,
        attempt.identity[:256],
        outcome,
        source_ip=_client(request),
        message=message,
    )


def _kept(fields: dict[str, str]) -> dict[str, str]:
    """What the form shows again after a failed attempt (never a secret)."""
    names = ("method", "access_key_id", "user_name", "next")
    return {name: fields[name] for name in names if name in fields}


async def _principal(console: Console, fields: dict[str, str]) -> tuple[Principal, str]:
    if fields.get("method") == "password":
        user = fields.get("user_name", "").strip()
        return await console.sign_in.with_password(user, fields.get("password", "")), "password"
    key_id = fields.get("access_key_id", "").strip()
    secret = fields.get("secret_access_key", "").strip()
    found = await console.credentials.find(key_id) if key_id else None
    if found is None or not found.key.active or found.key.session_token is not None:
        raise UnauthorizedError(_WRONG)
    if not hmac.compare_digest(found.key.secret_access_key.encode(), secret.encode()):
        raise UnauthorizedError(_WRONG)
    return found.principal, "key"


async def post_logout(request: Request) -> Response:
    current = await visit(request)
    await form_of(request, current)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response
