"""In-process registry fixtures: a fresh Berth per test, spoken to over httpx's ASGI transport.

httpx's ASGITransport runs no lifespan, so the fixtures call ``startup()`` and ``shutdown()``.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from berth.app import BerthApp, create_app
from berth.settings import load_settings

ACCOUNT_ID = "123456789012"
BASE_URL = "http://registry.test"


def basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"AWS:{token}".encode()).decode()


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
async def client(app: BerthApp) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": basic(app.issue_root_token())}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as http:
        yield http


@pytest.fixture
async def anon(app: BerthApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http
