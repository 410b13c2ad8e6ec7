"""Throttled sign-in through the console: the 429 page, the audit log, device cookies, proxies,
and two app instances on one data dir counting together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from granian.utils.proxies import wrap_asgi_with_proxy_headers

from berth.app import BerthApp, create_app, root_credentials
from berth.meta.base import AuditFilter
from berth.settings import load_settings
from berth.web.sessions import DEVICE_COOKIE, SESSION_COOKIE

from .conftest import ACCOUNT_ID, BASE_URL, sign_in, token_in

PASSWORD = "Corr3ct-Horse-Battery"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def client(app: object, address: str = "198.51.100.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


async def sign_in_with_password(
    browser: httpx.AsyncClient, user: str, password: str
) -> httpx.Response:
    page = await browser.get("/ui/login")
    form = {"token": token_in(page.text), "method": "password", "user_name": user}
    return await browser.post("/ui/login", data={**form, "password": password})


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[BerthApp, Clock]]:
    clock = Clock()
    settings = load_settings(environ={}, data_dir=tmp_path, account_id=ACCOUNT_ID)
    berth = create_app(settings, clock)
    await berth.startup()
    try:
        yield berth, clock
    finally:
        await berth.shutdown()


async def test_five_wrong_secrets_make_the_sixth_attempt_wait_even_if_right(
    app: BerthApp,
) -> None:
    root = root_credentials(app.settings)
    async with client(app) as browser:
        for _ in range(5):
            wrong = await sign_in(browser, root.access_key_id, "not-the-secret")
            assert wrong.status_code == 401
        refused = await sign_in(browser, root.access_key_id, root.secret_access_key)
        assert refused.status_code == 429
        assert "Too many failed sign-in attempts. Try again in 1 minute" in refused.text
        assert 'class="alert error"' in refused.text
        assert 'name="secret_access_key"' in refused.text
        assert root.access_key_id in refused.text
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert (await browser.get("/ui/")).status_code == 303
    async with client(app, "203.0.113.9") as elsewhere:
        assert (
            await sign_in(elsewhere, root.access_key_id, root.secret_access_key)
        ).status_code == 303


async def test_the_wait_ends_and_a_success_clears_the_count(
    clocked: tuple[BerthApp, Clock],
) -> None:
    app, clock = clocked
    root = root_credentials(app.settings)
    async with client(app) as browser:
        for _ in range(5):
            await sign_in(browser, root.access_key_id, "wrong")
        assert (await sign_in(browser, root.access_key_id, "wrong")).status_code == 429
        clock.now += timedelta(minutes=1)
        assert (
            await sign_in(browser, root.access_key_id, root.secret_access_key)
        ).status_code == 303
        browser.cookies.delete(SESSION_COOKIE)
        for _ in range(4):
            assert (await sign_in(browser, root.access_key_id, "wrong")).status_code == 401
        assert (
            await sign_in(browser, root.access_key_id, root.secret_access_key)
        ).status_code == 303


async def test_password_sign_ins_are_counted_without_case(app: BerthApp) -> None:
    identities = app.services.identities
    await identities.principals.create_user("alice")
    await identities.credentials.create_login_profile("alice", PASSWORD)
    async with client(app) as browser:
        for name in ("alice", "Alice", "ALICE", " alice", "aLice"):
            assert (await sign_in_with_password(browser, name, "guess")).status_code == 401
        refused = await sign_in_with_password(browser, "alice", PASSWORD)
        assert refused.status_code == 429
        assert 'value="password" id="method-password" checked' in refused.text


async def test_refusals_and_failures_are_in_the_audit_log(app: BerthApp) -> None:
    root = root_credentials(app.settings)
    async with client(app) as browser:
        assert (
            await sign_in(browser, root.access_key_id, root.secret_access_key)
        ).status_code == 303
        browser.cookies.delete(SESSION_COOKIE)
        for _ in range(6):
            await sign_in(browser, root.access_key_id, "wrong")
    events = await app.services.audit.list(AuditFilter(action="signin:ConsoleLogin"))
    outcomes = [event.outcome for event in reversed(events)]
    assert outcomes == ["allow"] + ["invalid-credentials"] * 5 + ["throttled"]
    throttled = events[0]
    assert throttled.principal == "*"
    assert throttled.resource == f"key:{root.access_key_id}"
    assert throttled.source_ip == "198.51.100.7"
    assert "Too many failed sign-in attempts" in throttled.message
    assert events[-1].principal == f"arn:aws:iam::{ACCOUNT_ID}:root"


async def test_strangers_cannot_lock_out_a_browser_that_signed_in_before(app: BerthApp) -> None:
    root = root_credentials(app.settings)
    async with client(app, "198.51.100.7") as own:
        signed_in = await sign_in(own, root.access_key_id, root.secret_access_key)
        assert DEVICE_COOKIE in signed_in.cookies
        await own.post("/ui/logout", data={"csrf_token": token_in((await own.get("/ui/")).text)})
        for n in range(20):
            async with client(app, f"192.0.2.{n}") as stranger:
                assert (await sign_in(stranger, root.access_key_id, "guess")).status_code == 401
        async with client(app, "203.0.113.9") as new_browser:
            refused = await sign_in(new_browser, root.access_key_id, root.secret_access_key)
            assert refused.status_code == 429
        assert (await sign_in(own, root.access_key_id, root.secret_access_key)).status_code == 303


async def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(app: BerthApp) -> None:
    root = root_credentials(app.settings)
    proxied = wrap_asgi_with_proxy_headers(app, trusted_hosts=["127.0.0.1"])
    async with client(proxied, "127.0.0.1") as proxy:
        proxy.headers["x-forwarded-for"] = "198.51.100.7"
        for _ in range(5):
            await sign_in(proxy, root.access_key_id, "wrong")
        assert (await sign_in(proxy, root.access_key_id, "wrong")).status_code == 429
        proxy.headers["x-forwarded-for"] = "203.0.113.9"
        assert (await sign_in(proxy, root.access_key_id, root.secret_access_key)).status_code == 303
    events = await app.services.audit.list(AuditFilter(outcome="throttled"))
    assert [event.source_ip for event in events] == ["198.51.100.7"]


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"method": "password"},
        {"method": "nonsense", "access_key_id": "x" * 100_000},
        {"method": "password", "user_name": "\x00\u00fc" * 1000, "password": "\x00"},
        {"access_key_id": "  ", "secret_access_key": "é"},
    ],
)
async def test_odd_forms_are_refused_and_counted_never_a_500(
    app: BerthApp, form: dict[str, str]
) -> None:
    async with client(app) as browser:
        for expected in (401,) * 5 + (429,):
            page = await browser.get("/ui/login")
            response = await browser.post("/ui/login", data={"token": token_in(page.text), **form})
            assert response.status_code == expected


async def test_two_app_instances_on_one_data_dir_share_the_limit(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path, account_id=ACCOUNT_ID)
    first, second = create_app(settings), create_app(settings)
    await first.startup()
    await second.startup()
    try:
        root = root_credentials(first.settings)
        async with client(first) as one, client(second) as two:
            for browser in (one, two, one, two, one):
                assert (await sign_in(browser, root.access_key_id, "wrong")).status_code == 401
            for browser in (two, one):
                refused = await sign_in(browser, root.access_key_id, root.secret_access_key)
                assert refused.status_code == 429
    finally:
        await first.shutdown()
        await second.shutdown()
