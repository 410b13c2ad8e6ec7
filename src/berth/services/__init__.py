"""Use-cases shared by every front door: one code path, several surfaces."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from berth.meta.base import MetaStore
from berth.secrets import KEY_BYTES, SecretBox
from berth.services.access import AccessService
from berth.services.audit import AuditLog
from berth.services.downloads import DownloadService
from berth.services.ecr_images import EcrImageService
from berth.services.gc import GarbageCollector
from berth.services.identities import IdentityService
from berth.services.images import ImageService
from berth.services.lifecycle import LifecycleService
from berth.services.registry import RegistryService
from berth.services.repositories import RepositoryService
from berth.services.sign_in_throttle import SignInPolicy, SignInThrottle
from berth.services.telemetry import NoTelemetry, Telemetry
from berth.services.templates import TemplateService
from berth.services.upload_expiry import UploadExpiry
from berth.services.uploads import LINK_REFRESH_AFTER, UploadService
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
    lifecycle: LifecycleService
    ecr_images: EcrImageService
    registry: RegistryService
    templates: TemplateService
    downloads: DownloadService
    identities: IdentityService
    audit: AuditLog
    gc: GarbageCollector
    upload_expiry: UploadExpiry
    sign_in_throttle: SignInThrottle


def build_services(
    meta: MetaStore,
    blobs: BlobStore,
    *,
    account: str,
    region: str,
    max_manifest_bytes: int,
    clock: Callable[[], datetime] = utc_now,
    secret_box: SecretBox | None = None,
    root_access_key_id: str = "",
    upload_expiry: timedelta = timedelta(days=1),
    gc_grace: timedelta = timedelta(days=1),
    telemetry: Telemetry | None = None,
    sign_in_policy: SignInPolicy | None = None,
) -> Services:
    """``secret_box`` seals IAM secrets; without one a key for this process only is made (tests)."""
    box = secret_box or SecretBox(os.urandom(KEY_BYTES))
    telemetry = telemetry or NoTelemetry()
    images = ImageService(meta, clock, max_manifest_bytes)
    audit = AuditLog(meta, clock)
    identities = IdentityService(
        meta, clock, account=account, box=box, root_access_key_id=root_access_key_id
    )
    return Services(
        meta=meta,
        blobs=blobs,
        access=AccessService(
            account, region, meta, clock, resolver=identities, audit=audit, telemetry=telemetry
        ),
        repositories=RepositoryService(meta, clock),
        uploads=UploadService(
            meta, blobs, clock, telemetry, refresh_links_after=min(LINK_REFRESH_AFTER, gc_grace / 2)
        ),
        images=images,
        lifecycle=LifecycleService(meta, clock, account),
        ecr_images=EcrImageService(meta, images, clock, account),
        registry=RegistryService(meta, account),
        templates=TemplateService(meta, clock, account),
        downloads=DownloadService(meta, clock),
        identities=identities,
        audit=audit,
        gc=GarbageCollector(meta, blobs, clock, gc_grace),
        upload_expiry=UploadExpiry(meta, blobs, clock, upload_expiry, telemetry),
        sign_in_throttle=SignInThrottle(meta, clock, sign_in_policy),
    )
