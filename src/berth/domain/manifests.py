"""Parse and validate image manifests and indexes (Docker schema 2 and OCI), bytes untouched."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from berth.domain import mediatypes
from berth.errors import DigestInvalidError, ManifestInvalidError, PayloadTooLargeError
from berth.types import Digest

__all__ = ["Descriptor", "ParsedManifest", "parse_manifest"]


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()
    platform: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    """What the registry needs to know about a manifest; its bytes are kept as they came."""

    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: tuple[tuple[str, str], ...]

    @property
    def is_index(self) -> bool:
        return self.media_type in mediatypes.INDEX_TYPES

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Blobs the registry must hold: the config and the distributable layers."""
        config = () if self.config is None else (self.config,)
        layers = tuple(d for d in self.layers if not mediatypes.is_non_distributable(d.media_type))
        return config + layers

    @property
    def effective_artifact_type(self) -> str | None:
        """``artifactType``, or for an image manifest its config media type (as referrers use)."""
        if self.artifact_type:
            return self.artifact_type
        return None if self.config is None else self.config.media_type


def _invalid(message: str) -> ManifestInvalidError:
    return ManifestInvalidError(f"manifest invalid: {message}")


def _string_map(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _invalid(f"{where} must be an object of strings")
    return tuple(sorted(value.items()))


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a descriptor object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}.mediaType must be a non-empty string")
    if not isinstance(digest, str):
        raise _invalid(f"{where}.digest must be a string")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _invalid(f"{where}.size must be a non-negative integer")
    try:
        parsed = Digest.parse(digest)
    except DigestInvalidError:
        raise _invalid(f"{where}.digest {digest[:150]!r} is not a valid digest") from None
    artifact_type = value.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid(f"{where}.artifactType must be a string")
    platform = value.get("platform")
    if platform is not None and not isinstance(platform, dict):
        raise _invalid(f"{where}.platform must be an object")
    annotations = _string_map(value.get("annotations"), f"{where}.annotations")
    return Descriptor(media_type, parsed, size, artifact_type, annotations, platform)


def _descriptors(value: Any, where: str) -> tuple[Descriptor, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _invalid(f"{where} must be a list")
    return tuple(_descriptor(item, f"{where}[{i}]") for i, item in enumerate(value))


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    header = (content_type or "").split(";")[0].strip().lower() or None
    if header in ("application/json", "application/octet-stream"):
        header = None
    if declared and header and declared != header:
        raise _invalid(f"Content-Type {header!r} contradicts the manifest's mediaType {declared!r}")
    media_type = declared or header
    if media_type is None:
        media_type = mediatypes.OCI_INDEX if "manifests" in document else mediatypes.OCI_MANIFEST
    if media_type in (mediatypes.DOCKER_SCHEMA1, mediatypes.DOCKER_SCHEMA1_SIGNED):
        raise _invalid("Docker schema 1 manifests are not supported; push schema 2 or OCI")
    if media_type not in mediatypes.MANIFEST_TYPES:
        raise _invalid(f"unsupported manifest media type {media_type!r}")
    return media_type


def parse_manifest(body: bytes, content_type: str | None, max_bytes: int) -> ParsedManifest:
    """Validate ``body`` as the manifest type that ``content_type`` (or its mediaType) names."""
    if len(body) > max_bytes:
        raise PayloadTooLargeError(f"manifest is {len(body)} bytes; the limit is {max_bytes}")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        # Fix: ValueError (beyond JSONDecodeError and UnicodeDecodeError: an integer over
        # Python's 4300-digit limit) and RecursionError (deep nesting) were 500s.
        raise _invalid(f"not valid JSON ({str(error)[:200]})") from None
    if not isinstance(document, dict):
        raise _invalid("the document must be a JSON object")
    if document.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    media_type = _media_type(document, content_type)
    artifact_type = document.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid("artifactType must be a string")
    subject = document.get("subject")
    parsed_subject = None if subject is None else _descriptor(subject, "subject")
    annotations = _string_map(document.get("annotations"), "annotations")
    if media_type in mediatypes.INDEX_TYPES:
        if not isinstance(document.get("manifests"), list):
            raise _invalid("an index must have a manifests list")
        manifests = _descriptors(document["manifests"], "manifests")
        return ParsedManifest(
            media_type, None, (), manifests, parsed_subject, artifact_type, annotations
        )
    if "config" not in document:
        raise _invalid("an image manifest must have a config descriptor")
    config = _descriptor(document["config"], "config")
    if not isinstance(document.get("layers"), list):
        raise _invalid("an image manifest must have a layers list")
    layers = _descriptors(document["layers"], "layers")
    return ParsedManifest(
        media_type, config, layers, (), parsed_subject, artifact_type, annotations
    )
