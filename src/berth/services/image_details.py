"""One image as a person inspects it: manifest, platforms, layers, config, referrers.

Reading the manifest needs ``ecr:BatchGetImage``, as a pull does; reading the config blob needs
``ecr:GetDownloadUrlForLayer``, as downloading it would. A refused config read is reported, not
raised, so the rest of the page still shows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from berth.domain.manifests import Descriptor, ParsedManifest, parse_manifest
from berth.errors import BerthError
from berth.meta.base import Manifest, MetaStore, Repository
from berth.services.access import AccessService, Origin
from berth.services.images import ImageService
from berth.storage.base import BlobStore
from berth.types import Digest, Principal, Reference

__all__ = ["ImageConfig", "ImageDetailService", "ImageDetails", "Platform", "Referrer"]

MAX_CONFIG_BYTES = 4 * 1024 * 1024
IMAGE_CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)


@dataclass(frozen=True, slots=True)
class Platform:
    """One entry of an index: the platform it is for and whether its manifest is here."""

    descriptor: Descriptor
    name: str
    present: bool


@dataclass(frozen=True, slots=True)
class Referrer:
    digest: str
    artifact_type: str
    media_type: str
    size: int
    pushed_at: str
    annotations: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What a config blob says about the image (fields missing from it are empty)."""

    media_type: str
    created: str = ""
    platform: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    history: tuple[Mapping[str, Any], ...] = ()
    unreadable: str = ""


@dataclass(frozen=True, slots=True)
class ImageDetails:
    repository: Repository
    manifest: Manifest
    parsed: ParsedManifest
    tags: tuple[str, ...]
    platforms: tuple[Platform, ...] = ()
    config: ImageConfig | None = None
    config_refusal: str = ""
    referrers: tuple[Referrer, ...] = ()

    @property
    def layer_bytes(self) -> int:
        return sum(layer.size for layer in self.parsed.layers)

    @property
    def pretty_manifest(self) -> str:
        try:
            return json.dumps(json.loads(self.manifest.body), indent=2)
        except ValueError:
            return self.manifest.body.decode("utf-8", "replace")


def platform_name(platform: Mapping[str, Any] | None) -> str:
    if not platform:
        return "unknown"
    parts = [str(platform.get("os", "?")), str(platform.get("architecture", "?"))]
    if platform.get("variant"):
        parts.append(str(platform["variant"]))
    return "/".join(parts)


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return (str(value),) if isinstance(value, str) else ()


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _config_view(media_type: str, document: Any) -> ImageConfig:
    if not isinstance(document, dict):
        return ImageConfig(media_type, unreadable="the config is not a JSON object")
    inner = _mapping(document.get("config"))
    history = document.get("history")
    return ImageConfig(
        media_type=media_type,
        created=str(document.get("created", "")),
        platform=platform_name(document),
        entrypoint=_strings(inner.get("Entrypoint")),
        cmd=_strings(inner.get("Cmd")),
        env=_strings(inner.get("Env")),
        labels=tuple(sorted((str(k), str(v)) for k, v in _mapping(inner.get("Labels")).items())),
        working_dir=str(inner.get("WorkingDir") or ""),
        user=str(inner.get("User") or ""),
        exposed_ports=tuple(sorted(str(port) for port in _mapping(inner.get("ExposedPorts")))),
        history=tuple(e for e in history if isinstance(e, dict))
        if isinstance(history, list)
        else (),
    )


class ImageDetailService:
    def __init__(
        self, meta: MetaStore, blobs: BlobStore, access: AccessService, images: ImageService
    ) -> None:
        self.meta = meta
        self.blobs = blobs
        self.access = access
        self.images = images

    async def inspect(
        self,
        principal: Principal,
        repository: Repository,
        reference: Reference,
        origin: Origin | None = None,
    ) -> ImageDetails:
        arn = self.access.repository_arn(repository.name)
        await self.access.authorize(principal, "ecr:BatchGetImage", arn, origin=origin)
        manifest = await self.images.resolve(repository, reference)
        parsed = parse_manifest(manifest.body, manifest.media_type, len(manifest.body))
        async with self.meta.read() as tx:
            tags = tuple(sorted(await tx.tags.for_digest(repository.id, manifest.digest)))
            found = await tx.manifests.referrers(repository.id, manifest.digest)
            present = [
                await tx.manifests.get(repository.id, str(d.digest)) for d in parsed.manifests
            ]
        platforms = tuple(
            Platform(d, platform_name(d.platform), child is not None)
            for d, child in zip(parsed.manifests, present, strict=True)
        )
        config, refusal = await self._config(principal, repository, parsed)
        return ImageDetails(
            repository=repository,
            manifest=manifest,
            parsed=parsed,
            tags=tags,
            platforms=platforms,
            config=config,
            config_refusal=refusal,
            referrers=tuple(_referrer(m) for m in found),
        )

    async def _config(
        self, principal: Principal, repository: Repository, parsed: ParsedManifest
    ) -> tuple[ImageConfig | None, str]:
        descriptor = parsed.config
        if descriptor is None:
            return None, ""
        if descriptor.media_type not in IMAGE_CONFIG_TYPES:
            return ImageConfig(descriptor.media_type), ""
        arn = self.access.repository_arn(repository.name)
        decision = await self.access.decide(principal, "ecr:GetDownloadUrlForLayer", arn)
        if not decision.allowed:
            return None, decision.message
        return await self._read_config(repository, descriptor), ""

    async def _read_config(self, repository: Repository, descriptor: Descriptor) -> ImageConfig:
        media_type = descriptor.media_type
        if descriptor.size > MAX_CONFIG_BYTES:
            return ImageConfig(
                media_type, unreadable=f"the config is over {MAX_CONFIG_BYTES} bytes"
            )
        async with self.meta.read() as tx:
            linked = await tx.blobs.get_linked(repository.id, str(descriptor.digest))
        if linked is None:
            return ImageConfig(media_type, unreadable="the config blob is not in this repository")
        try:
            body = await self._read(descriptor.digest)
            return _config_view(media_type, json.loads(body))
        except (BerthError, ValueError, RecursionError):
            return ImageConfig(media_type, unreadable="the config blob could not be read")

    async def _read(self, digest: Digest) -> bytes:
        parts: list[bytes] = []
        async for chunk in self.blobs.read_blob(digest, 0, MAX_CONFIG_BYTES):
            parts.append(chunk)
        return b"".join(parts)


def _referrer(manifest: Manifest) -> Referrer:
    return Referrer(
        digest=manifest.digest,
        artifact_type=manifest.artifact_type or "",
        media_type=manifest.media_type,
        size=manifest.size,
        pushed_at=manifest.pushed_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        annotations=manifest.annotations,
    )
