"""Manifest handlers: get_manifest, head_manifest, put_manifest, delete_manifest."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from berth.api.oci.context import authorize, context_of, repository_of
from berth.errors import ManifestUnknownError, PayloadTooLargeError, TagInvalidError
from berth.types import Reference, parse_reference

__all__ = ["delete_manifest", "get_manifest", "head_manifest", "put_manifest"]


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = (request.headers.get("content-length") or "").lstrip("0")
    # Fix: a 5000-digit (or "²") Content-Length made int() raise, a 500; compare digits first.
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise PayloadTooLargeError(f"manifest is {declared[:20]} bytes; the limit is {limit}")
    parts: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLargeError(f"manifest is over the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _lookup_reference(text: str) -> Reference:
    """A reference to read or delete: a name no tag can have names no manifest (404, not 400).

    Fix: HEAD/GET of ``.INVALID_MANIFEST_NAME`` answered 400 TAG_INVALID; the conformance suite
    (and distribution) answer 404. PUT still refuses a bad tag with TAG_INVALID.
    """
    try:
        return parse_reference(text)
    except TagInvalidError:
        raise ManifestUnknownError(
            f"manifest unknown: {text[:200]}", detail={"reference": text[:200]}
        ) from None


async def get_manifest(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:BatchGetImage", name)
    reference = _lookup_reference(request.path_params["reference"])
    repository = await services.repositories.get(name)
    manifest = await services.images.pull(repository, reference)
    headers = {"Docker-Content-Digest": manifest.digest, "ETag": f'"{manifest.digest}"'}
    return Response(manifest.body, media_type=manifest.media_type, headers=headers)


async def head_manifest(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:BatchGetImage", name)
    reference = _lookup_reference(request.path_params["reference"])
    repository = await services.repositories.get(name)
    manifest = await services.images.resolve(repository, reference)
    headers = {
        "Docker-Content-Digest": manifest.digest,
        "Content-Type": manifest.media_type,
        "Content-Length": str(manifest.size),
        "ETag": f'"{manifest.digest}"',
    }
    return Response(status_code=200, headers=headers)


async def put_manifest(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:PutImage", name)
    reference = parse_reference(request.path_params["reference"])
    body = await _read_limited(request, services.images.max_manifest_bytes)
    repository = await services.repositories.find(name)
    if repository is None:
        await authorize(request, principal, "ecr:CreateRepository", name)
        services.images.validate(reference, body, request.headers.get("content-type"))
        repository = await services.repositories.ensure(name)
    manifest = await services.images.put(
        repository, reference, body, request.headers.get("content-type")
    )
    headers = {
        "Location": f"/v2/{name}/manifests/{manifest.digest}",
        "Docker-Content-Digest": manifest.digest,
        "Content-Length": "0",
    }
    if manifest.subject:
        headers["OCI-Subject"] = manifest.subject
    return Response(status_code=201, headers=headers)


async def delete_manifest(request: Request) -> Response:
    context, principal = context_of(request)
    name = repository_of(request)
    services = context.services
    await authorize(request, principal, "ecr:BatchDeleteImage", name)
    reference = _lookup_reference(request.path_params["reference"])
    repository = await services.repositories.get(name)
    await services.images.delete(repository, reference)
    return Response(status_code=202, headers={"Content-Length": "0"})
