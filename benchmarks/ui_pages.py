"""How fast the console's pages answer for a registry of 1,000 repositories and 10,000 images.

    python benchmarks/ui_pages.py [--repositories 1000] [--images 10] [--repeats 25]

Seeds a fresh SQLite registry through the metadata store (one transaction per repository; the
blob bytes are not written, except the config of the image whose page is measured), signs in as
the account root, then requests each page in-process (httpx's ASGI transport, so the figures
are the server's own time without a network) and prints the first (cold) time and the median
and 95th percentile of the repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from berth.app import BerthApp, create_app, root_credentials
from berth.meta.base import Manifest, Reference, ReferenceKind, Repository
from berth.settings import load_settings
from berth.types import Digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCOUNT = "123456789012"
BUDGET_MS = 100.0


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_of(number: int) -> bytes:
    document = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2025-01-01T00:00:00Z",
        "config": {
            "Entrypoint": ["/app"],
            "Env": [f"BUILD={number}"],
            "Labels": {"n": str(number)},
        },
        "history": [{"created_by": f"build {number}"}],
    }
    return json.dumps(document).encode()


def image(repo: int, number: int) -> tuple[bytes, bytes, list[Reference]]:
    """A manifest (config, a base layer shared by the repository's images, a layer of its own)."""
    config = config_of(repo * 1000 + number)
    layers = [
        (f"base-{repo}".encode(), 30_000_000 + repo),
        (f"app-{repo}-{number}".encode(), 2_000_000 + number * 1000),
    ]
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
        "layers": [
            {"mediaType": OCI_LAYER, "digest": digest(seed), "size": size} for seed, size in layers
        ],
    }
    body = json.dumps(document).encode()
    references = [Reference(digest(config), ReferenceKind.BLOB, len(config))]
    references += [Reference(digest(seed), ReferenceKind.BLOB, size) for seed, size in layers]
    return body, config, references


async def seed_repository(app: BerthApp, repo: int, images: int, now: datetime) -> None:
    meta = app.services.meta
    async with meta.transaction() as tx:
        created = await tx.repositories.create(
            Repository(id=0, name=f"team-{repo % 20:02d}/service-{repo:04d}", created_at=now)
        )
        for number in range(images):
            body, config, references = image(repo, number)
            pushed = now - timedelta(minutes=repo * images + number)
            for reference in references:
                await tx.blobs.put(reference.digest, reference.size, pushed)
                await tx.blobs.link(created.id, reference.digest)
            manifest = Manifest(
                repository_id=created.id,
                digest=digest(body),
                media_type=OCI_MANIFEST,
                size=len(body),
                body=body,
                pushed_at=pushed,
                config_digest=digest(config),
                artifact_type=OCI_CONFIG,
            )
            await tx.manifests.put(manifest, references)
            await tx.tags.put(created.id, f"v{number}", manifest.digest, pushed)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed(app: BerthApp, repositories: int, images: int) -> str:
    """Seed the registry; return the repository whose page (and first image) is measured."""
    now = datetime.now(UTC)
    for repo in range(repositories):
        await seed_repository(app, repo, images, now)
    name = "team-07/service-0007"
    target = await app.services.repositories.find(name)  # type: ignore[arg-type]
    assert target is not None
    config = config_of(7 * 1000)
    await app.services.uploads.upload_whole(target, Digest.parse(digest(config)), _chunks(config))
    return name


async def sign_in(client: httpx.AsyncClient, app: BerthApp) -> None:
    credentials = root_credentials(app.settings)
    login = await client.get("/ui/login")
    token = re.search(r'name="token" value="([^"]+)"', login.text)
    assert token is not None
    form = {
        "token": token.group(1),
        "access_key_id": credentials.access_key_id,
        "secret_access_key": credentials.secret_access_key,
    }
    response = await client.post("/ui/login", data=form)
    assert response.status_code == 303, response.text


async def timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    response = await client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return elapsed


async def measure(args: argparse.Namespace) -> list[tuple[str, float, float, float]]:
    with tempfile.TemporaryDirectory(prefix="berth-ui-bench-") as folder:
        settings = load_settings(environ={}, data_dir=Path(folder), account_id=ACCOUNT)
        app = create_app(settings)
        await app.startup()
        try:
            started = time.perf_counter()
            name = await seed(app, args.repositories, args.images)
            print(
                f"seeded {args.repositories} repositories, {args.repositories * args.images} "
                f"images in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
            return await measure_pages(app, name, args.repeats)
        finally:
            await app.shutdown()


async def measure_pages(
    app: BerthApp, name: str, repeats: int
) -> list[tuple[str, float, float, float]]:
    pages = {
        "repositories (by name)": "/ui/repositories",
        "repositories (by size)": "/ui/repositories?sort=size",
        "repositories (by last push)": "/ui/repositories?sort=pushed",
        "repositories (search)": "/ui/repositories?q=service-07",
        "repositories (page 10)": "/ui/repositories?offset=450",
        "a repository": f"/ui/repositories/{name}",
        "an image": f"/ui/repositories/{name}/-/images/v0",
        "simulator": (
            f"/ui/simulator?principal=arn:aws:iam::{ACCOUNT}:root&action=ecr:PutImage"
            f"&resource=arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{name}"
        ),
        "IAM users": "/ui/iam/users",
        "audit log": "/ui/audit",
    }
    transport = httpx.ASGITransport(app=app)
    rows = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as client:
        await sign_in(client, app)
        for label, path in pages.items():
            cold = await timed(client, path)
            samples = sorted([await timed(client, path) for _ in range(repeats)])
            p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
            rows.append((label, cold, statistics.median(samples), p95))
    return rows


def report(rows: list[tuple[str, float, float, float]], args: argparse.Namespace) -> str:
    lines = [
        f"Console pages, {args.repositories} repositories and "
        f"{args.repositories * args.images} images (SQLite), "
        f"{args.repeats} repeats each:",
        "",
        "| page | first (ms) | median (ms) | p95 (ms) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, cold, median, p95 in rows:
        lines.append(f"| {label} | {cold:.1f} | {median:.1f} | {p95:.1f} |")
    worst = max(median for _, _, median, _ in rows)
    verdict = "within" if worst < BUDGET_MS else "OVER"
    lines += ["", f"Slowest median {worst:.1f} ms: {verdict} the {BUDGET_MS:.0f} ms budget."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=1000)
    parser.add_argument("--images", type=int, default=10, help="images per repository")
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    print(report(asyncio.run(measure(args)), args))


if __name__ == "__main__":
    main()
