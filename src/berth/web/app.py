"""The console's routes, in one block, and how its failures are shown."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from berth.auth.credentials import CredentialStore
from berth.errors import BerthError
from berth.meta.catalog import CatalogReader
from berth.services import Services
from berth.web import audit, iam, images, repositories, signin, simulator
from berth.web.context import Console, console_of
from berth.web.guard import CsrfError, SignInRequiredError
from berth.web.sessions import SESSION_COOKIE

__all__ = ["console_app", "routes"]

STATIC = Path(__file__).parent / "static"
_REPOSITORY = "/repositories/{name:path}"
_CSRF = "This form is out of date or came from another site. Reload the page and try again."


def routes() -> list[Route | Mount]:
    return [
        Route("/", repositories.list_repositories, methods=["GET"]),
        Route("/login", signin.get_login, methods=["GET"]),
        Route("/login", signin.post_login, methods=["POST"]),
        Route("/logout", signin.post_logout, methods=["POST"]),
        Route("/repositories", repositories.list_repositories, methods=["GET"]),
        Route(_REPOSITORY + "/-/images/{reference}", images.get_image, methods=["GET"]),
        Route(_REPOSITORY + "/-/policy", repositories.put_repository_policy, methods=["POST"]),
        Route(
            _REPOSITORY + "/-/policy/delete",
            repositories.delete_repository_policy,
            methods=["POST"],
        ),
        Route(_REPOSITORY + "/-/lifecycle", repositories.put_lifecycle_policy, methods=["POST"]),
        Route(
            _REPOSITORY + "/-/lifecycle/preview", repositories.preview_lifecycle, methods=["POST"]
        ),
        Route(_REPOSITORY, repositories.get_repository, methods=["GET"]),
        Route("/iam/users", iam.list_users, methods=["GET"]),
        Route("/iam/users/{name}", iam.get_user, methods=["GET"]),
        Route("/iam/roles", iam.list_roles, methods=["GET"]),
        Route("/iam/roles/{name}", iam.get_role, methods=["GET"]),
        Route("/iam/policies", iam.list_policies, methods=["GET"]),
        Route("/iam/policy", iam.get_policy, methods=["GET"]),
        Route("/simulator", simulator.simulate, methods=["GET"]),
        Route("/audit", audit.list_audit_events, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]


def _error(request: Request, status: int, title: str, message: str) -> Response:
    console = console_of(request)
    signed_in = console.sessions.read(request.cookies.get(SESSION_COOKIE)) is not None
    context = {"title": title, "message": message, "status": status, "signed_in": signed_in}
    return console.renderer.page("error.html", context, status)


async def berth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BerthError)
    title = "Access denied" if exc.status in (401, 403) else exc.aws_type
    return _error(request, exc.status, title, exc.message)


async def sign_in_required(request: Request, exc: Exception) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    location = "/ui/login?next=" + quote(target if request.method == "GET" else "/ui/")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


async def csrf_refused(request: Request, exc: Exception) -> Response:
    return _error(request, 403, "Request refused", _CSRF)


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = "There is no such page." if status == 404 else "That method is not allowed here."
    return _error(request, status, "Not found" if status == 404 else "Not allowed", message)


def console_app(
    services: Services,
    reader: CatalogReader,
    credentials: CredentialStore,
    session_key: bytes,
    public_url: str | None = None,
) -> Starlette:
    """The console, mounted at ``/ui``. Templates are compiled here, once."""
    app = Starlette(
        routes=routes(),
        exception_handlers={
            BerthError: berth_error,
            SignInRequiredError: sign_in_required,
            CsrfError: csrf_refused,
            HTTPException: http_error,
        },
    )
    app.state.console = Console.build(services, reader, credentials, session_key, public_url)
    return app
