"""Use-cases shared by every front door: one code path, several surfaces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from berth.meta.base import MetaStore
from berth.services.access import AccessService
from berth.services.images import ImageService
from berth.services.repositories import RepositoryService
from berth.services.uploads import UploadService
from berth.storage.base import BlobStore

__all__ = ["Services", "build_services", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Services:
    meta: MetaStore
    blobs: BlobStore
    access: AccessService
    repositories: RepositoryService
    uploads: UploadService
    images: ImageService


def build_services(
    meta: MetaStore,
    blobs: BlobStore,
    *,
    account: str,
    region: str,
    max_manifest_bytes: int,
    clock: Callable[[], datetime] = utc_now,
) -> Services:
    return Services(
        meta=meta,
        blobs=blobs,
        access=AccessService(account, region, meta, clock),
        repositories=RepositoryService(meta, clock),
        uploads=UploadService(meta, blobs, clock),
        images=ImageService(meta, clock, max_manifest_bytes),
    )
