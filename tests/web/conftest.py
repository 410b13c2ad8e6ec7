"""In-process console fixtures: a fresh Berth per test, a browser-like httpx client signed in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from berth.app import BerthApp, create_app, root_credentials
from berth.settings import load_settings

ACCOUNT_ID = "123456789012"
BASE_URL = "http://berth.test"
_TOKEN = re.compile(r'name="(?:token|csrf_token)" value="([^"]+)"')


def token_in(html: str) -> str:
    """The sign-in token or CSRF token a page's form carries."""
    found = _TOKEN.search(html)
    assert found is not None, "the page has no form token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key_id: str, secret: str) -> httpx.Response:
    page = await client.get("/ui/login")
    form = {
        "token": token_in(page.text),
        "method": "key",
        "access_key_id": key_id,
        "secret_access_key": secret,
        "next": "/ui/",
    }
    return await client.post("/ui/login", data=form)


@pytest.fixture
async def app(tmp_path: Path, database_url: str | None) -> AsyncIterator[BerthApp]:
    settings = load_settings(
        environ={}, data_dir=tmp_path, account_id=ACCOUNT_ID, database_url=database_url
    )
    berth = create_app(settings)
    await berth.startup()
    try:
        yield berth
    finally:
        await berth.shutdown()


@pytest.fixture
async def anon(app: BerthApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
async def root(anon: httpx.AsyncClient, app: BerthApp) -> httpx.AsyncClient:
    """A client signed in with the account root's access key."""
    credentials = root_credentials(app.settings)
    response = await sign_in(anon, credentials.access_key_id, credentials.secret_access_key)
    assert response.status_code == 303, response.text
    return anon


async def csrf_of(client: httpx.AsyncClient, path: str = "/ui/repositories") -> str:
    return token_in((await client.get(path)).text)
