"""Large registries made fast: Berth through its metadata store (before the server starts),
distribution through its filesystem layout (tag links and repository folders)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from servers import ACCOUNT_ID, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY

from berth.app import create_app
from berth.meta.base import Manifest, Reference, ReferenceKind, Repository
from berth.settings import load_settings

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MANY = "bench/many"
CATALOG_PREFIX = "bench/catalog/r"
BATCH = 500


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest_body(config: tuple[str, int], layers: list[tuple[str, int]], note: str = "") -> bytes:
    document: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s} for d, s in layers],
    }
    if note:
        document["annotations"] = {"bench": note}
    return json.dumps(document, separators=(",", ":")).encode()


def tag_name(number: int) -> str:
    return f"t{number:06d}"


def repository_name(number: int) -> str:
    return f"{CATALOG_PREFIX}{number:06d}"


def _image(number: int, now: datetime, repository_id: int) -> tuple[Manifest, list[Reference]]:
    config = f'{{"n":{number}}}'.encode()
    layer = (digest_of(f"layer-{number}".encode()), 1_000_000 + number)
    body = manifest_body((digest_of(config), len(config)), [layer], str(number))
    references = [
        Reference(digest_of(config), ReferenceKind.BLOB, len(config)),
        Reference(layer[0], ReferenceKind.BLOB, layer[1]),
    ]
    manifest = Manifest(
        repository_id=repository_id,
        digest=digest_of(body),
        media_type=OCI_MANIFEST,
        size=len(body),
        body=body,
        pushed_at=now,
        config_digest=digest_of(config),
        artifact_type=OCI_CONFIG,
    )
    return manifest, references


async def _seed_berth(data_dir: Path, images: int, repositories: int) -> None:
    environ = {
        "BERTH_ROOT_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
        "BERTH_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET_ACCESS_KEY,
        "BERTH_ACCOUNT_ID": ACCOUNT_ID,
    }
    app = create_app(load_settings(environ=environ, data_dir=data_dir))
    await app.startup()
    try:
        meta, now = app.services.meta, datetime.now(UTC)
        async with meta.transaction() as tx:
            many = await tx.repositories.create(Repository(id=0, name=MANY, created_at=now))
        for start in range(0, images, BATCH):
            async with meta.transaction() as tx:
                for number in range(start, min(start + BATCH, images)):
                    manifest, references = _image(number, now, many.id)
                    await tx.manifests.put(manifest, references)
                    await tx.tags.put(many.id, tag_name(number), manifest.digest, now)
        for start in range(0, repositories, BATCH):
            async with meta.transaction() as tx:
                for number in range(start, min(start + BATCH, repositories)):
                    draft = Repository(id=0, name=repository_name(number), created_at=now)
                    await tx.repositories.create(draft)
    finally:
        await app.shutdown()


def seed_berth(data_dir: Path, images: int, repositories: int) -> None:
    """``images`` tagged images in bench/many and ``repositories`` empty repositories."""
    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_seed_berth(data_dir, images, repositories))


def seed_distribution(root: Path, digest: str, tags: int, repositories: int) -> None:
    """Tags of bench/many pointing at ``digest`` (pushed over HTTP), and repository folders."""
    base = root / "docker" / "registry" / "v2" / "repositories"
    algorithm, hex_digest = digest.split(":")
    for number in range(tags):
        tag = base / MANY / "_manifests" / "tags" / tag_name(number)
        (tag / "current").mkdir(parents=True, exist_ok=True)
        (tag / "current" / "link").write_text(digest)
        index = tag / "index" / algorithm / hex_digest
        index.mkdir(parents=True, exist_ok=True)
        (index / "link").write_text(digest)
    for number in range(repositories):
        os.makedirs(base / repository_name(number) / "_layers", exist_ok=True)
