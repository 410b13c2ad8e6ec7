"""Large registries made fast: Berth through its metadata store (before the server starts),
distribution through its filesystem layout (tag links and repository folders).

``seed_berth`` goes through the store's own methods; ``seed_berth_bulk`` inserts the same rows
in batches of 10,000 (one ``executemany`` each), for the 100,000-item registries of
``scaling.py``."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from servers import ACCOUNT_ID, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from berth.app import create_app
from berth.meta import schema
from berth.meta.base import Manifest, Reference, ReferenceKind, Repository
from berth.meta.sql import async_url
from berth.settings import Settings, load_settings

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MANY = "bench/many"
CATALOG_PREFIX = "bench/catalog/r"
BATCH = 500
BULK = 10_000


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


def _settings(data_dir: Path, database_url: str | None = None) -> Settings:
    environ = {
        "BERTH_ROOT_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
        "BERTH_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET_ACCESS_KEY,
        "BERTH_ACCOUNT_ID": ACCOUNT_ID,
    }
    return load_settings(environ=environ, data_dir=data_dir, database_url=database_url)


async def _seed_berth(
    data_dir: Path, images: int, repositories: int, database_url: str | None
) -> None:
    app = create_app(_settings(data_dir, database_url))
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


def seed_berth(
    data_dir: Path, images: int, repositories: int, database_url: str | None = None
) -> None:
    """``images`` tagged images in bench/many and ``repositories`` empty repositories (in the
    metadata database at ``database_url``, by default the data folder's SQLite file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_seed_berth(data_dir, images, repositories, database_url))


def _repository_row(name: str, now: datetime) -> dict[str, Any]:
    """The row ``RepositoryStore.create`` writes for a repository with the default settings."""
    row = dataclasses.asdict(Repository(id=0, name=name, created_at=now))
    del row["id"]
    row["tag_mutability_exclusions"] = list(row["tag_mutability_exclusions"])
    row["resource_tags"] = dict(row["resource_tags"])
    return row


def _image_rows(numbers: range, now: datetime, repository_id: int) -> dict[Table, list[Any]]:
    """The manifest, reference and tag rows of images ``numbers``, as ``seed_berth`` makes them."""
    rows: dict[Table, list[Any]] = {
        schema.manifests: [],
        schema.manifest_references: [],
        schema.tags: [],
    }
    for number in numbers:
        manifest, references = _image(number, now, repository_id)
        row = dataclasses.asdict(manifest)
        row["annotations"] = dict(row["annotations"])
        rows[schema.manifests].append(row)
        rows[schema.manifest_references] += [
            {
                "repository_id": repository_id,
                "manifest_digest": manifest.digest,
                "child_digest": reference.digest,
                "kind": reference.kind.value,
                "size": reference.size,
            }
            for reference in references
        ]
        rows[schema.tags].append(
            {
                "repository_id": repository_id,
                "name": tag_name(number),
                "digest": manifest.digest,
                "updated_at": now,
            }
        )
    return rows


def _batches(count: int) -> Iterator[range]:
    for start in range(0, count, BULK):
        yield range(start, min(start + BULK, count))


async def _insert_tagged(conn: AsyncConnection, name: str, images: int, now: datetime) -> None:
    table = schema.repositories
    statement = table.insert().values(_repository_row(name, now)).returning(table.c.id)
    repository_id = (await conn.execute(statement)).scalar_one()
    for numbers in _batches(images):
        for table, rows in _image_rows(numbers, now, repository_id).items():
            await conn.execute(table.insert(), rows)


async def _seed_berth_bulk(data_dir: Path, tagged: dict[str, int], repositories: int) -> None:
    settings = _settings(data_dir)
    app = create_app(settings)
    await app.startup()  # the schema, the account and the root key, as the server will find them
    await app.shutdown()
    engine = create_async_engine(async_url(settings.resolved_database_url))
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            for name, images in tagged.items():
                await _insert_tagged(conn, name, images, now)
            for numbers in _batches(repositories):
                rows = [_repository_row(repository_name(number), now) for number in numbers]
                await conn.execute(schema.repositories.insert(), rows)
    finally:
        await engine.dispose()


def seed_berth_bulk(data_dir: Path, tagged: dict[str, int], repositories: int) -> None:
    """Repositories named in ``tagged`` with that many tagged images each (all distinct), and
    ``repositories`` empty repositories ``bench/catalog/r...``; before the server starts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_seed_berth_bulk(data_dir, tagged, repositories))


def seed_distribution(
    root: Path, digest: str, tags: int, repositories: int, repository: str = MANY
) -> None:
    """Tags of ``repository`` pointing at ``digest`` (pushed over HTTP), and repository folders."""
    base = root / "docker" / "registry" / "v2" / "repositories"
    algorithm, hex_digest = digest.split(":")
    for number in range(tags):
        tag = base / repository / "_manifests" / "tags" / tag_name(number)
        (tag / "current").mkdir(parents=True, exist_ok=True)
        (tag / "current" / "link").write_text(digest)
        index = tag / "index" / algorithm / hex_digest
        index.mkdir(parents=True, exist_ok=True)
        (index / "link").write_text(digest)
    for number in range(repositories):
        os.makedirs(base / repository_name(number) / "_layers", exist_ok=True)
