"""Image operations: list, describe, get, delete, put, referrers."""

from __future__ import annotations

from typing import Any

from berth.api.ecr.calls import (
    Call,
    Result,
    authorize_repository,
    decode_token,
    encode_token,
)
from berth.errors import BerthError, InvalidParameterError, ManifestUnknownError
from berth.meta.base import Manifest, Repository
from berth.services.ecr_images import ImageDetails, ImageId, ImageIdError
from berth.types import Digest

__all__ = [
    "batch_delete_image",
    "batch_get_image",
    "describe_images",
    "list_image_referrers",
    "list_images",
    "put_image",
]

_ACTIVE = "ACTIVE"


def _image_id(image_id: ImageId) -> dict[str, str]:
    wire = {"imageDigest": image_id.digest}
    if image_id.tag is not None:
        wire["imageTag"] = image_id.tag
    return wire


def _failure(wire_id: dict[str, Any], error: ImageIdError) -> dict[str, Any]:
    return {"imageId": wire_id, "failureCode": error.code, "failureReason": error.reason}


def _tag_status(call: Call) -> str:
    return str((call.params.get("filter") or {}).get("tagStatus") or "ANY")


def _no_image_ids_with_paging(call: Call) -> None:
    if call.params.get("imageIds") and ("maxResults" in call.params or "nextToken" in call.params):
        raise InvalidParameterError(
            "Invalid parameter at 'maxResults' failed to satisfy constraint: 'maxResults and "
            "nextToken cannot be used together with imageIds'"
        )


async def list_images(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:ListImages")
    cursor = decode_token(call.params.get("nextToken"), 2)
    after = None if cursor is None else ImageId(cursor[0], cursor[1] or None)
    listing = await call.services.ecr_images.list_ids(
        repository, _tag_status(call), after, call.page_size()
    )
    result: Result = {"imageIds": [_image_id(i) for i in listing.ids]}
    if listing.more:
        last = listing.ids[-1]
        result["nextToken"] = encode_token([last.digest, last.tag or ""])
    return result


def _detail(call: Call, repository: Repository, details: ImageDetails) -> dict[str, Any]:
    manifest = details.manifest
    detail: dict[str, Any] = {
        "registryId": call.account,
        "repositoryName": repository.name,
        "imageDigest": manifest.digest,
        "imageSizeInBytes": details.size,
        "imagePushedAt": manifest.pushed_at,
        "imageManifestMediaType": manifest.media_type,
        "artifactMediaType": manifest.artifact_type,
        "lastRecordedPullTime": manifest.last_pulled_at,
        "subjectManifestDigest": manifest.subject,
        "imageStatus": _ACTIVE,
    }
    if details.tags:
        detail["imageTags"] = list(details.tags)
    return detail


def _not_found(call: Call, repository: Repository, wire_id: dict[str, Any]) -> ManifestUnknownError:
    digest, tag = wire_id.get("imageDigest", "null"), wire_id.get("imageTag", "null")
    return ManifestUnknownError(
        f"The image with imageId {{imageDigest:'{digest}', imageTag:'{tag}'}} does not exist "
        f"within the repository with name '{repository.name}' in the registry with id "
        f"'{call.account}'"
    )


async def _described(call: Call, repository: Repository) -> list[ImageDetails]:
    chosen: dict[str, ImageDetails] = {}
    for wire_id in call.params["imageIds"]:
        try:
            manifest = await call.services.ecr_images.find(
                repository, wire_id.get("imageDigest"), wire_id.get("imageTag")
            )
        except ImageIdError as error:
            if error.code == "ImageNotFound":
                raise _not_found(call, repository, wire_id) from None
            raise InvalidParameterError(error.reason) from None
        if manifest.digest not in chosen:
            chosen[manifest.digest] = await call.services.ecr_images.details(repository, manifest)
    return list(chosen.values())


async def describe_images(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:DescribeImages")
    _no_image_ids_with_paging(call)
    if call.params.get("imageIds"):
        found = await _described(call, repository)
        return {"imageDetails": [_detail(call, repository, d) for d in found]}
    cursor = decode_token(call.params.get("nextToken"), 1)
    page, more = await call.services.ecr_images.list_details(
        repository, _tag_status(call), None if cursor is None else cursor[0], call.page_size()
    )
    result: Result = {"imageDetails": [_detail(call, repository, d) for d in page]}
    if more:
        result["nextToken"] = encode_token([page[-1].manifest.digest])
    return result


def _image(call: Call, repository: Repository, manifest: Manifest, tag: str | None) -> Result:
    return {
        "registryId": call.account,
        "repositoryName": repository.name,
        "imageId": _image_id(ImageId(manifest.digest, tag)),
        "imageManifest": manifest.body.decode("utf-8", errors="replace"),
        "imageManifestMediaType": manifest.media_type,
    }


async def _get_one(
    call: Call, repository: Repository, wire_id: dict[str, Any], accepted: list[str]
) -> Result:
    services = call.services
    tag = wire_id.get("imageTag")
    manifest = await services.ecr_images.find(repository, wire_id.get("imageDigest"), tag)
    if accepted and manifest.media_type not in accepted:
        raise ImageIdError(
            "ImageNotFound",
            f"The image's manifest media type {manifest.media_type} is not one of the "
            "acceptedMediaTypes",
        )
    pulled = await services.images.pull(repository, Digest.parse(manifest.digest))
    return _image(call, repository, pulled, tag)


async def batch_get_image(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:BatchGetImage")
    accepted = [str(media_type) for media_type in call.params.get("acceptedMediaTypes") or []]
    images, failures = [], []
    for wire_id in call.params["imageIds"]:
        try:
            images.append(await _get_one(call, repository, wire_id, accepted))
        except ImageIdError as error:
            failures.append(_failure(wire_id, error))
    return {"images": images, "failures": failures}


async def batch_delete_image(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:BatchDeleteImage")
    deleted: list[dict[str, str]] = []
    failures = []
    for wire_id in call.params["imageIds"]:
        try:
            removed = await call.services.ecr_images.delete(
                repository, wire_id.get("imageDigest"), wire_id.get("imageTag")
            )
        except ImageIdError as error:
            failures.append(_failure(wire_id, error))
            continue
        deleted += [_image_id(image_id) for image_id in removed]
    return {"imageIds": deleted, "failures": failures}


def _checked_digest(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return str(Digest.parse(text))
    except BerthError:
        raise InvalidParameterError(
            f"Invalid parameter at 'imageDigest' failed to satisfy constraint: "
            f"'Invalid image digest {text[:200]}'"
        ) from None


async def put_image(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:PutImage")
    params = call.params
    tag = params.get("imageTag")
    manifest = await call.services.ecr_images.put(
        repository,
        str(params["imageManifest"]).encode(),
        params.get("imageManifestMediaType"),
        tag,
        _checked_digest(params.get("imageDigest")),
    )
    return {"image": _image(call, repository, manifest, tag)}


def _referrer(manifest: Manifest) -> dict[str, Any]:
    return {
        "digest": manifest.digest,
        "mediaType": manifest.media_type,
        "artifactType": manifest.artifact_type,
        "size": manifest.size,
        "annotations": dict(manifest.annotations) or None,
        "artifactStatus": _ACTIVE,
    }


async def list_image_referrers(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:ListImageReferrers")
    subject = _checked_digest(call.params["subjectId"]["imageDigest"])
    assert subject is not None
    artifact_types = (call.params.get("filter") or {}).get("artifactTypes") or []
    found = await call.services.ecr_images.referrers(repository, subject, artifact_types)
    cursor = decode_token(call.params.get("nextToken"), 1)
    if cursor is not None:
        found = [m for m in found if m.digest > cursor[0]]
    limit = int(call.params.get("maxResults") or 50)
    result: Result = {"referrers": [_referrer(m) for m in found[:limit]]}
    if len(found) > limit:
        result["nextToken"] = encode_token([found[limit - 1].digest])
    return result
