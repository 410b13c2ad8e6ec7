"""The console in a real browser (Debian's Chromium, driven by Playwright) against `berth serve`.

Images arrive the way users push them (skopeo); a read-only IAM user comes from the IAM API
(boto3). Set BERTH_SCREENSHOTS=docs/screenshots to refresh the documentation's screenshots.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from berth.app import create_app
from berth.settings import load_settings
from clients.conftest import (
    ACCOUNT_ID,
    REGION,
    ROOT_ACCESS_KEY_ID,
    ROOT_SECRET_ACCESS_KEY,
    RegistryServer,
    launch,
)
from clients.images import write_image_layout, write_multiarch_layout
from seed import consumer_policy_json

from . import seed

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.clients,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]

sync_api = pytest.importorskip("playwright.sync_api")


async def _seed(data_dir: Path) -> None:
    """Repositories with history, an index and a signature, written before the server starts."""
    settings = load_settings(environ={}, data_dir=data_dir, account_id=ACCOUNT_ID)
    app = create_app(settings)
    await app.startup()
    try:
        services = app.services
        amd = await seed.push_image(services, "platform/api", "1.4.2")
        arm = await seed.push_image(services, "platform/api", "1.4.2-arm64", layers=(b"arm" * 900,))
        await seed.push_index(services, "platform/api", "latest", [amd, arm])
        await seed.push_signature(services, "platform/api", amd)
        for name in ("platform/worker", "tools/ci-runner", "data/etl", "frontend/web"):
            await seed.push_image(services, name, "stable", layers=(name.encode() * 700,))
    finally:
        await app.shutdown()


def _skopeo_push(server: RegistryServer, source: str, target: str, policy: Path) -> None:
    command = [
        "skopeo",
        "--policy",
        str(policy),
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        server.creds or "",
        source,
        f"docker://{server.host}/{target}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    root = tmp_path_factory.mktemp("console")
    (root / "data").mkdir()
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        pool.submit(asyncio.run, _seed(root / "data")).result()
    started = launch("berth", root)
    policy = root / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    os.environ.setdefault("REGISTRY_AUTH_FILE", str(root / "auth.json"))
    try:
        _skopeo_push(
            started, write_image_layout(root / "app", "v1").reference, "web/app:v1", policy
        )
        multi = write_multiarch_layout(root / "multi", "multi")
        _skopeo_push(started, multi.reference, "web/app:multi", policy)
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def reader(server: RegistryServer) -> tuple[str, str]:
    """An IAM user with the reference's read-only policy and an access key."""
    iam = boto3.client(
        "iam",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=ROOT_ACCESS_KEY_ID,
        aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
    )
    try:
        iam.create_user(UserName="reader")
        iam.put_user_policy(
            UserName="reader",
            PolicyName="DockerRegistryConsumerPolicy",
            PolicyDocument=consumer_policy_json(),
        )
        key = iam.create_access_key(UserName="reader")["AccessKey"]
    finally:
        iam.close()
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    wanted = os.environ.get("BERTH_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def snap(page: sync_api.Page, folder: Path, name: str) -> None:
    """The page at desktop and phone width."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def signed_in(
    browser: sync_api.Browser, server: RegistryServer, key_id: str, secret: str
) -> sync_api.Page:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{server.url}/ui/")
    page.fill("input[name=access_key_id]", key_id)
    page.fill("input[name=secret_access_key]", secret)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/ui/")
    return page


def test_sign_in_browse_to_an_image_and_read_its_layers(
    browser: sync_api.Browser, server: RegistryServer, shots: Path
) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{server.url}/ui/repositories")
    assert "/ui/login" in page.url
    snap(page, shots, "sign-in")
    page.fill("input[name=access_key_id]", ROOT_ACCESS_KEY_ID)
    page.fill("input[name=secret_access_key]", "wrong")
    page.click("button[type=submit]")
    assert "authentication information is incorrect" in page.inner_text(".alert")
    page.fill("input[name=secret_access_key]", ROOT_SECRET_ACCESS_KEY)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/ui/repositories")
    assert page.locator("td.name a", has_text="web/app").count() == 1
    snap(page, shots, "repositories")

    page.click("td.name a:text-is('web/app')")
    page.wait_for_url("**/ui/repositories/web/app")
    assert page.locator("#images a.tag", has_text="v1").count() == 1
    assert page.locator(f"code:text('docker pull {server.host}/web/app:v1')").count() == 1
    snap(page, shots, "repository")

    page.click("#images a.tag:text-is('v1')")
    page.wait_for_url("**/-/images/v1")
    rows = page.locator("#layers tbody tr")
    assert rows.count() == 3
    sizes = [rows.nth(i).locator("td.num").nth(1).inner_text() for i in range(3)]
    assert all(re.fullmatch(r"\d+(\.\d)? (B|KB|MB)", size) for size in sizes), sizes
    assert "linux/amd64" in page.inner_text("#config")
    snap(page, shots, "image")

    page.goto(f"{server.url}/ui/repositories/platform/api/-/images/latest")
    assert page.locator("#platforms tbody tr").count() == 2
    assert "linux/arm64/v8" in page.inner_text("#platforms")
    page.goto(f"{server.url}/ui/repositories/platform/api/-/images/1.4.2")
    assert "cosign" in page.inner_text("#referrers")
    snap(page, shots, "image-referrers")


def test_edit_the_repository_policy_then_simulate_it(
    browser: sync_api.Browser, server: RegistryServer, shots: Path
) -> None:
    page = signed_in(browser, server, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY)
    page.goto(f"{server.url}/ui/repositories/web/app#policy")
    page.fill("#policy_text", '{"Version": "2012-10-17", "Statement": [')
    page.click("#policy button.primary")
    page.wait_for_selector("#policy .alert.error")
    error = page.inner_text("#policy .alert.error")
    assert "Invalid repository policy provided" in error
    assert "not valid JSON" in error
    snap(page, shots, "policy-refused")

    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/web/app"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NobodyDeletes",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "ecr:DeleteRepository",
                "Resource": arn,
            }
        ],
    }
    page.fill("#policy_text", json.dumps(policy, indent=2))
    page.click("#policy button.primary")
    page.wait_for_selector("#policy .alert.ok")
    assert "NobodyDeletes" in page.input_value("#policy_text")

    page.goto(f"{server.url}/ui/simulator")
    page.fill("input[name=principal]", f"arn:aws:iam::{ACCOUNT_ID}:root")
    page.fill("input[name=action]", "ecr:DeleteRepository")
    page.fill("input[name=resource]", arn)
    page.click("form.simulator button.primary")
    page.wait_for_selector("#result .verdict")
    assert page.inner_text("#result .verdict") == "Denied (explicit deny)"
    assert "NobodyDeletes" in page.inner_text("#result")
    snap(page, shots, "simulator")

    page.fill("input[name=action]", "ecr:PutImage")
    page.click("form.simulator button.primary")
    page.wait_for_selector("#result .verdict.allowed")


def test_a_read_only_user_cannot_see_the_iam_pages(
    browser: sync_api.Browser, server: RegistryServer, reader: tuple[str, str], shots: Path
) -> None:
    root = signed_in(browser, server, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY)
    root.goto(f"{server.url}/ui/iam/users")
    assert root.locator("td.name a", has_text="reader").count() == 1
    snap(root, shots, "iam-users")

    page = signed_in(browser, server, *reader)
    assert page.locator("nav.sections a", has_text="IAM").count() == 0
    assert page.locator("td.name a", has_text="web/app").count() == 1
    page.goto(f"{server.url}/ui/iam/users")
    message = page.inner_text(".alert")
    assert f"arn:aws:iam::{ACCOUNT_ID}:user/reader is not authorized to perform: iam:ListUsers" in (
        message
    )
    snap(page, shots, "iam-denied")
    page.goto(f"{server.url}/ui/repositories/web/app")
    assert "not authorized to perform: ecr:DescribeImages" in page.inner_text("#images")
    assert page.locator("#images a.tag", has_text="v1").count() == 1

    root.goto(f"{server.url}/ui/audit?outcome=implicit-deny")
    assert "iam:ListUsers" in root.inner_text("#events")
    assert "GetLifecyclePolicy" not in root.inner_text("#events")  # page probes are not logged
    snap(root, shots, "audit")
