"""Layer operations: check, upload in parts, complete, and a download URL that works."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from berth.api.download_urls import DOWNLOAD_PATH
from berth.api.ecr.calls import (
    Call,
    Result,
    authorize_repository,
)
from berth.errors import (
    BerthError,
    BlobUnknownError,
    BlobUploadUnknownError,
    EmptyUploadError,
    InvalidParameterError,
    LayerAlreadyExistsError,
    RangeInvalidError,
)
from berth.meta.base import Repository, Upload
from berth.services.downloads import DOWNLOAD_TTL_SECONDS
from berth.types import Digest

__all__ = [
    "PART_SIZE",
    "batch_check_layer_availability",
    "complete_layer_upload",
    "get_download_url_for_layer",
    "initiate_layer_upload",
    "upload_layer_part",
]

PART_SIZE = 10 * 1024 * 1024
"""The part size ``InitiateLayerUpload`` suggests, as ECR does (10 MiB)."""


def _digest(text: str, member: str) -> Digest:
    try:
        return Digest.parse(text)
    except BerthError:
        raise InvalidParameterError(
            f"Invalid parameter at '{member}' failed to satisfy constraint: "
            f"'Invalid layer digest {text[:200]}'"
        ) from None


async def _upload(call: Call, repository: Repository) -> Upload:
    upload_id = str(call.params["uploadId"])
    try:
        return await call.services.uploads.get(repository, upload_id)
    except BlobUploadUnknownError:
        raise BlobUploadUnknownError(
            f"The upload with id '{upload_id}' does not exist in the repository with name "
            f"'{repository.name}' in the registry with id '{call.account}'"
        ) from None


def _layer(digest: str, size: int) -> dict[str, Any]:
    return {"layerDigest": digest, "layerAvailability": "AVAILABLE", "layerSize": size}


async def batch_check_layer_availability(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:BatchCheckLayerAvailability")
    layers, failures = [], []
    for text in call.params["layerDigests"]:
        try:
            digest = Digest.parse(text)
        except BerthError:
            failures.append(
                {
                    "layerDigest": text,
                    "failureCode": "InvalidLayerDigest",
                    "failureReason": "Invalid layer digest",
                }
            )
            continue
        try:
            blob = await call.services.uploads.blob(repository, digest)
        except BlobUnknownError:
            failures.append(
                {
                    "layerDigest": text,
                    "failureCode": "MissingLayerDigest",
                    "failureReason": "Could not find layer",
                }
            )
            continue
        layers.append(_layer(blob.digest, blob.size))
    return {"layers": layers, "failures": failures}


async def initiate_layer_upload(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:InitiateLayerUpload")
    upload = await call.services.uploads.start(repository)
    return {"uploadId": upload.id, "partSize": PART_SIZE}


def _check_part(upload: Upload, first: int, last: int, size: int) -> None:
    if first != upload.size:
        raise RangeInvalidError(
            f"The layer part's first byte {first} is not consecutive to the last byte "
            f"received, {upload.size - 1}",
            detail={"size": upload.size},
        )
    if size == 0 or last - first + 1 != size:
        raise RangeInvalidError(
            f"The layer part spans bytes {first}-{last} but holds {size} bytes",
            detail={"size": upload.size},
        )


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def upload_layer_part(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:UploadLayerPart")
    upload = await _upload(call, repository)
    data: bytes = call.params["layerPartBlob"]
    first, last = int(call.params["partFirstByte"]), int(call.params["partLastByte"])
    _check_part(upload, first, last, len(data))
    updated = await call.services.uploads.append(
        repository, upload.id, _once(data), first, len(data)
    )
    return {
        "registryId": call.account,
        "repositoryName": repository.name,
        "uploadId": upload.id,
        "lastByteReceived": updated.size - 1,
    }


async def complete_layer_upload(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:CompleteLayerUpload")
    upload = await _upload(call, repository)
    digests = call.params["layerDigests"]
    if len(digests) != 1:
        raise InvalidParameterError(
            "Invalid parameter at 'layerDigests' failed to satisfy constraint: "
            "'exactly one layer digest completes an upload'"
        )
    digest = _digest(digests[0], "layerDigests")
    services = call.services
    if upload.size == 0:
        raise EmptyUploadError(f"The upload with id '{upload.id}' does not contain any layer parts")
    try:
        await services.uploads.blob(repository, digest)
    except BlobUnknownError:
        blob = await services.uploads.complete(repository, upload.id, digest)
    else:
        await services.uploads.cancel(repository, upload.id)
        raise LayerAlreadyExistsError(
            f"The layer '{digest}' already exists in the repository with name "
            f"'{repository.name}' in the registry with id '{call.account}'"
        )
    return {
        "registryId": call.account,
        "repositoryName": repository.name,
        "uploadId": upload.id,
        "layerDigest": blob.digest,
    }


async def get_download_url_for_layer(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:GetDownloadUrlForLayer")
    digest = _digest(str(call.params["layerDigest"]), "layerDigest")
    services = call.services
    try:
        blob = await services.uploads.blob(repository, digest)
    except BlobUnknownError:
        raise BlobUnknownError(
            f"The image layer '{digest}' does not exist in the repository with name "
            f"'{repository.name}' in the registry with id '{call.account}'"
        ) from None
    url = await services.blobs.presigned_url(digest, DOWNLOAD_TTL_SECONDS)
    if url is None:
        token = await services.downloads.sign(repository.name, blob.digest)
        url = f"{call.download_base or call.base_url.rstrip('/')}{DOWNLOAD_PATH}{token}"
    return {"downloadUrl": url, "layerDigest": blob.digest}
