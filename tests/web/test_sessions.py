"""Signing in and out, the session cookie, and CSRF refusals."""

from __future__ import annotations

import httpx

from berth.app import BerthApp, root_credentials
from berth.types import Principal
from berth.web.sessions import SESSION_COOKIE, SessionSigner

from .conftest import csrf_of, sign_in, token_in


async def test_pages_send_a_visitor_without_a_session_to_sign_in(anon: httpx.AsyncClient) -> None:
    response = await anon.get("/ui/repositories?q=web")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=/ui/repositories%3Fq%3Dweb"


async def test_htmx_requests_without_a_session_are_redirected_by_header(
    anon: httpx.AsyncClient,
) -> None:
    response = await anon.get("/ui/repositories", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/ui/login")


async def test_sign_in_with_the_root_key_sets_a_strict_http_only_cookie(
    anon: httpx.AsyncClient, app: BerthApp
) -> None:
    credentials = root_credentials(app.settings)
    response = await sign_in(anon, credentials.access_key_id, credentials.secret_access_key)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/"
    cookie = next(
        value
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and value.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/ui" in cookie
    page = await anon.get("/ui/")
    assert page.status_code == 200
    assert "arn:aws:iam::123456789012:root" in page.text


async def test_a_wrong_secret_is_refused_without_saying_which_part_was_wrong(
    anon: httpx.AsyncClient, app: BerthApp
) -> None:
    credentials = root_credentials(app.settings)
    wrong = await sign_in(anon, credentials.access_key_id, "not-the-secret")
    unknown = await sign_in(anon, "AKIAUNKNOWNUNKNOWN00", credentials.secret_access_key)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Your authentication information is incorrect" in response.text
        assert credentials.secret_access_key not in response.text
    assert (await anon.get("/ui/")).status_code == 303


async def test_sign_in_refuses_a_form_without_its_token(
    anon: httpx.AsyncClient, app: BerthApp
) -> None:
    credentials = root_credentials(app.settings)
    form = {
        "token": "forged",
        "access_key_id": credentials.access_key_id,
        "secret_access_key": credentials.secret_access_key,
    }
    response = await anon.post("/ui/login", data=form)
    assert response.status_code == 400
    assert "sign-in form expired" in response.text


async def test_next_never_leaves_the_console(anon: httpx.AsyncClient, app: BerthApp) -> None:
    credentials = root_credentials(app.settings)
    page = await anon.get("/ui/login")
    form = {
        "token": token_in(page.text),
        "access_key_id": credentials.access_key_id,
        "secret_access_key": credentials.secret_access_key,
        "next": "//evil.example/ui/",
    }
    response = await anon.post("/ui/login", data=form)
    assert response.headers["location"] == "/ui/"


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(
    root: httpx.AsyncClient,
) -> None:
    refused = await root.post("/ui/logout", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    assert "out of date or came from another site" in refused.text
    token = await csrf_of(root)
    done = await root.post("/ui/logout", data={"csrf_token": token})
    assert done.status_code == 303
    assert (await root.get("/ui/")).status_code == 303


async def test_csrf_token_is_accepted_in_the_htmx_header(root: httpx.AsyncClient) -> None:
    token = await csrf_of(root)
    response = await root.post("/ui/logout", headers={"X-CSRF-Token": token})
    assert response.status_code == 303


async def test_a_post_from_another_origin_is_refused(root: httpx.AsyncClient) -> None:
    token = await csrf_of(root)
    response = await root.post(
        "/ui/logout", data={"csrf_token": token}, headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403


async def test_a_tampered_cookie_is_no_session(root: httpx.AsyncClient) -> None:
    cookie = root.cookies.get(SESSION_COOKIE)
    assert cookie is not None
    body, mac = cookie.split(".")
    for forged in (body[:-2] + "xx." + mac, body + "." + mac[:-2] + "AA", "garbage", "a.b.c"):
        root.cookies.set(SESSION_COOKIE, forged, domain="berth.test", path="/ui")
        assert (await root.get("/ui/")).status_code == 303


async def test_a_cookie_signed_with_another_key_is_no_session(
    root: httpx.AsyncClient, app: BerthApp
) -> None:
    principal = Principal.root(app.settings.account, root_credentials(app.settings).access_key_id)
    forged = SessionSigner(b"k" * 32).issue(principal, "key")
    root.cookies.set(SESSION_COOKIE, forged, domain="berth.test", path="/ui")
    assert (await root.get("/ui/")).status_code == 303


def test_sessions_expire() -> None:
    now = [1_000_000.0]
    signer = SessionSigner(b"k" * 32, ttl=60, clock=lambda: now[0])
    cookie = signer.issue(Principal.root("123456789012", "AKIA"), "key")
    assert signer.read(cookie) is not None
    now[0] += 61
    assert signer.read(cookie) is None


def test_csrf_tokens_belong_to_one_session() -> None:
    signer = SessionSigner(b"k" * 32)
    principal = Principal.root("123456789012", "AKIA")
    first = signer.read(signer.issue(principal, "key"))
    second = signer.read(signer.issue(principal, "key"))
    assert first is not None and second is not None
    assert signer.check_csrf(first, signer.csrf_token(first))
    assert not signer.check_csrf(second, signer.csrf_token(first))
    assert not signer.check_csrf(first, None)
