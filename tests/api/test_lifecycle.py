"""Lifecycle policies end to end: 50 images pushed over /v2 with ages set through a test clock,
a policy of several rules, its preview, then the expiry job removing exactly those images."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from berth.app import BerthApp, create_app
from berth.errors import LifecyclePolicyNotFoundError
from berth.meta.base import Repository
from berth.services.jobs import Job, JobScheduler
from berth.services.lifecycle import LifecyclePreview, PreviewResult
from berth.settings import load_settings
from berth.types import RepositoryName

from .oci import (
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    assert_error,
    descriptor,
    digest_of,
    image_manifest,
    index_manifest,
    push_blob,
    push_manifest,
)

ACCOUNT_ID = "123456789012"
NAME = "lifecycle/web"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=100)
LAYER = b"shared layer bytes" * 64

POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "keep the three newest prod images",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["prod-*"],
                "countType": "imageCountMoreThan",
                "countNumber": 3,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "releases not pulled for 30 days",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["release"],
                "countType": "sinceImagePulled",
                "countUnit": "days",
                "countNumber": 30,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 3,
            "description": "untagged images after two weeks",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 14,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 4,
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["feature-*-build"],
                "countType": "imageCountMoreThan",
                "countNumber": 2,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 10,
            "description": "anything else after 60 days",
            "selection": {
                "tagStatus": "any",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 60,
            },
            "action": {"type": "expire"},
        },
    ]
}
POLICY_TEXT = json.dumps(POLICY, indent=2)


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclasses.dataclass(frozen=True)
class Pushed:
    index: int
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime


def _tags(i: int) -> tuple[str, ...]:
    kind = i % 5
    if kind == 0:
        return ("prod-0", "stable") if i == 0 else (f"prod-{i}",)
    if kind == 1:
        return (f"release-{i}", f"v1.{i}")
    if kind == 2:
        return ()
    if kind == 3:
        return (f"feature-{i}-build",)
    return ("dev-49", "latest") if i == 49 else (f"dev-{i}",)


def _expected_rule(i: int) -> int | None:
    """The policy, worked by hand: image i was pushed 100 - 2i days before NOW."""
    kind, age = i % 5, 100 - 2 * i
    if kind == 0:
        return 1 if i <= 30 else None  # prod-35, prod-40 and prod-45 are the newest three
    if kind == 1:
        return 2 if age > 30 and i not in (1, 11) else None  # 1 and 11 were pulled 5 days ago
    if kind == 2:
        return 3 if age > 14 else None
    if kind == 3:
        return 4 if i < 43 else None  # feature-43 and feature-48 are the newest two
    return 10 if age > 60 else None


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"AWS:{token}".encode()).decode()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def berth(tmp_path: Path, clock: Clock, database_url: str | None) -> AsyncIterator[BerthApp]:
    settings = load_settings(
        environ={}, data_dir=tmp_path, account_id=ACCOUNT_ID, database_url=database_url
    )
    app = create_app(settings, clock=clock)
    await app.startup()
    try:
        yield app
    finally:
        await app.shutdown()


@pytest.fixture
async def client(berth: BerthApp) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": _basic(berth.issue_root_token())}
    transport = httpx.ASGITransport(app=berth)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://registry.test", headers=headers
    ) as http:
        yield http


async def _push_image(client: httpx.AsyncClient, name: str, seed: str, *tags: str) -> str:
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    await push_blob(client, name, config)
    await push_blob(client, name, LAYER)
    body = image_manifest(config, [LAYER])
    digest = digest_of(body)
    for reference in tags or (digest,):
        await push_manifest(client, name, reference, body)
    return digest


async def _push_fifty(client: httpx.AsyncClient, clock: Clock) -> list[Pushed]:
    pushed = []
    for i in range(50):
        clock.now = T0 + timedelta(days=2 * i)
        digest = await _push_image(client, NAME, f"image-{i}", *_tags(i))
        pushed.append(Pushed(i, digest, tuple(sorted(_tags(i))), clock.now))
    return pushed


async def _pull(client: httpx.AsyncClient, clock: Clock, tag: str, at: datetime) -> None:
    clock.now = at
    response = await client.get(f"/v2/{NAME}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200, response.text


async def _repository(berth: BerthApp, name: str = NAME) -> Repository:
    return await berth.services.repositories.get(RepositoryName(name))


async def test_fifty_images_preview_then_expire(
    berth: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    pushed = await _push_fifty(client, clock)
    await _pull(client, clock, "release-1", NOW - timedelta(days=5))
    await _pull(client, clock, "v1.11", NOW - timedelta(days=5))
    await _pull(client, clock, "release-16", NOW - timedelta(days=40))
    clock.now = NOW
    lifecycle = berth.services.lifecycle
    repository = await _repository(berth)
    assert await lifecycle.put_policy(repository, POLICY_TEXT) == POLICY_TEXT
    assert await lifecycle.get_policy(repository) == POLICY_TEXT

    expiring = sorted(
        (p for p in pushed if _expected_rule(p.index) is not None),
        key=lambda p: (_expected_rule(p.index), p.pushed_at),
    )
    expected = [
        PreviewResult(p.digest, p.tags, p.pushed_at, _expected_rule(p.index) or 0) for p in expiring
    ]
    assert len(expected) == 33
    preview = await lifecycle.preview(repository)
    assert preview == LifecyclePreview("COMPLETE", POLICY_TEXT, expected, 33)
    assert await lifecycle.get_preview(repository) == preview

    expired = await lifecycle.run()
    assert [(e.image.digest, e.rule_priority) for e in expired] == [
        (r.image_digest, r.applied_rule_priority) for r in expected
    ]
    assert await lifecycle.last_evaluated(repository) == NOW
    gone = {p.digest for p in expiring}
    for p in pushed:
        response = await client.head(f"/v2/{NAME}/manifests/{p.digest}")
        assert response.status_code == (404 if p.digest in gone else 200), p
        for tag in p.tags:
            response = await client.get(f"/v2/{NAME}/manifests/{tag}")
            if p.digest in gone:
                assert_error(response, 404, "MANIFEST_UNKNOWN")
            else:
                assert response.headers["Docker-Content-Digest"] == p.digest
    listed = (await client.get(f"/v2/{NAME}/tags/list")).json()["tags"]
    kept_tags = sorted(t for p in pushed if p.digest not in gone for t in p.tags)
    assert listed == kept_tags
    assert "stable" not in listed and "latest" in listed
    assert await lifecycle.run() == []


async def _push_artifact(client: httpx.AsyncClient, name: str, subject: bytes) -> str:
    empty = b"{}"
    await push_blob(client, name, empty)
    body = image_manifest(
        empty,
        [empty],
        config_type=OCI_EMPTY,
        layer_type=OCI_EMPTY,
        artifactType="application/vnd.example.signature",
        subject=descriptor(OCI_MANIFEST, subject),
    )
    await push_manifest(client, name, digest_of(body), body)
    return digest_of(body)


async def test_index_children_stay_and_referrers_follow_their_subject(
    berth: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    name = "lifecycle/multi"
    children = []
    for arch in ("amd64", "arm64"):
        config = json.dumps({"architecture": arch, "os": "linux"}).encode()
        await push_blob(client, name, config)
        await push_blob(client, name, LAYER)
        child = image_manifest(config, [LAYER])
        await push_manifest(client, name, digest_of(child), child)
        children.append(child)
    index = index_manifest(children)
    await push_manifest(client, name, "multi", index, OCI_INDEX)
    loose_digest = await _push_image(client, name, "loose")
    loose = (await client.get(f"/v2/{name}/manifests/{loose_digest}")).content
    signature = await _push_artifact(client, name, loose)
    clock.now = T0 + timedelta(days=20)
    repository = await _repository(berth, name)
    untagged = {**POLICY, "rules": [POLICY["rules"][2]]}
    await berth.services.lifecycle.put_policy(repository, json.dumps(untagged))

    expired = await berth.services.lifecycle.run(repository)

    assert {e.image.digest: e.rule_priority for e in expired} == {loose_digest: 3, signature: 3}
    for kept in [digest_of(index), *(digest_of(child) for child in children)]:
        assert (await client.head(f"/v2/{name}/manifests/{kept}")).status_code == 200
    for digest in (loose_digest, signature):
        assert (await client.head(f"/v2/{name}/manifests/{digest}")).status_code == 404


async def test_policy_crud_and_the_missing_policy_error(
    berth: BerthApp, client: httpx.AsyncClient
) -> None:
    await _push_image(client, NAME, "one", "v1")
    lifecycle = berth.services.lifecycle
    repository = await _repository(berth)
    assert await lifecycle.get_policy(repository) is None
    assert await lifecycle.get_preview(repository) is None
    with pytest.raises(LifecyclePolicyNotFoundError) as raised:
        await lifecycle.preview(repository)
    assert raised.value.message == (
        "Lifecycle policy does not exist for the repository with name 'lifecycle/web' "
        "in the registry with id '123456789012'"
    )
    preview = await lifecycle.preview(repository, POLICY_TEXT)
    assert preview.results == [] and await lifecycle.get_policy(repository) is None
    await lifecycle.put_policy(repository, POLICY_TEXT)
    assert await lifecycle.delete_policy(repository) == POLICY_TEXT
    assert await lifecycle.get_policy(repository) is None
    with pytest.raises(LifecyclePolicyNotFoundError):
        await lifecycle.delete_policy(repository)


async def test_a_failing_repository_does_not_stop_the_others(
    berth: BerthApp, client: httpx.AsyncClient, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    old = await _push_image(client, "lifecycle/good", "old")
    await _push_image(client, "lifecycle/bad", "old")
    clock.now = T0 + timedelta(days=30)
    good, bad = (
        await _repository(berth, "lifecycle/good"),
        await _repository(berth, "lifecycle/bad"),
    )
    async with berth.services.meta.transaction() as tx:
        await tx.repositories.update(dataclasses.replace(bad, lifecycle_policy="{broken"))
    await berth.services.lifecycle.put_policy(good, json.dumps({"rules": [POLICY["rules"][2]]}))

    with caplog.at_level(logging.ERROR, logger="berth.lifecycle"):
        expired = await berth.services.lifecycle.run()

    assert [e.image.digest for e in expired] == [old]
    assert "lifecycle/bad" in caplog.text


async def test_the_background_loop_expires_images(
    berth: BerthApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    digest = await _push_image(client, NAME, "old")
    clock.now = T0 + timedelta(days=30)
    lifecycle = berth.services.lifecycle
    await lifecycle.put_policy(
        await _repository(berth), json.dumps({"rules": [POLICY["rules"][2]]})
    )

    async def expire() -> str:
        return f"expired {len(await lifecycle.run())}"

    scheduler = JobScheduler(
        berth.services.meta, [Job("lifecycle", 0.01, expire)], node="test", clock=clock
    )
    scheduler.start()
    try:
        for _ in range(500):
            await asyncio.sleep(0.01)
            if (await client.head(f"/v2/{NAME}/manifests/{digest}")).status_code == 404:
                break
        else:
            pytest.fail("the lifecycle job did not expire the image within 5 seconds")
    finally:
        await scheduler.stop()
