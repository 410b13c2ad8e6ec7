"""Repository operations: create, describe, delete, configure, tag."""

from __future__ import annotations

from typing import Any

from berth.api.ecr.calls import (
    MAX_TAGS,
    Call,
    Result,
    authorize_repository,
    check_registry,
    decode_token,
    encode_token,
    find_repository,
    repository_view,
    request_tag_context,
    require_repository,
    resource_tag_context,
    tag_list,
    tag_pairs,
)
from berth.domain.tags import check_tag_mutability
from berth.errors import InvalidParameterError, TooManyTagsError
from berth.meta.base import Repository
from berth.types import RepositoryName

__all__ = [
    "create_repository",
    "delete_repository",
    "describe_repositories",
    "list_tags_for_resource",
    "put_image_scanning_configuration",
    "put_image_tag_mutability",
    "tag_resource",
    "untag_resource",
]

_ARN_PREFIX = "arn:aws:ecr:"


def _exclusions(params: dict[str, Any]) -> tuple[str, ...]:
    filters = params.get("imageTagMutabilityExclusionFilters") or []
    return tuple(str(item["filter"]) for item in filters)


def _mutability(params: dict[str, Any]) -> dict[str, Any]:
    mutability = str(params.get("imageTagMutability") or "MUTABLE")
    exclusions = _exclusions(params)
    check_tag_mutability(mutability, exclusions)
    return {"tag_mutability": mutability, "tag_mutability_exclusions": exclusions}


def _encryption(params: dict[str, Any]) -> dict[str, Any]:
    encryption = params.get("encryptionConfiguration") or {"encryptionType": "AES256"}
    kind, key = encryption["encryptionType"], encryption.get("kmsKey")
    if kind == "AES256" and key:
        raise InvalidParameterError(
            "Invalid parameter at 'encryptionConfiguration' failed to satisfy constraint: "
            "'a KMS key can only be given with the KMS or KMS_DSSE encryption type'"
        )
    return {"encryption_type": kind, "kms_key": key}


def _configuration(params: dict[str, Any], tags: list[tuple[str, str]]) -> dict[str, Any]:
    scanning = params.get("imageScanningConfiguration") or {}
    if len(tags) > MAX_TAGS:
        raise TooManyTagsError(f"A repository can have at most {MAX_TAGS} tags")
    return {
        **_mutability(params),
        **_encryption(params),
        "scan_on_push": bool(scanning.get("scanOnPush", False)),
        "resource_tags": tuple(tags),
    }


async def create_repository(call: Call) -> Result:
    services = call.services
    check_registry(call)
    name = str(call.params["repositoryName"])
    tags = tag_pairs(call.params.get("tags"))
    await services.access.authorize(
        call.principal,
        "ecr:CreateRepository",
        call.arn(name),
        context=request_tag_context(tags),
        origin=call.origin,
    )
    config = _configuration(call.params, tags)
    repository = await services.repositories.create(RepositoryName(name), **config)
    return {"repository": repository_view(call, repository)}


async def _named(call: Call, names: list[str]) -> list[Repository]:
    found = []
    for wanted in names:
        name, repository = await find_repository(call, wanted)
        await call.services.access.authorize(
            call.principal,
            "ecr:DescribeRepositories",
            call.arn(name),
            context=resource_tag_context(repository),
            origin=call.origin,
        )
        found.append(require_repository(call, name, repository))
    return found


async def _visible(call: Call, after: str | None, limit: int) -> tuple[list[Repository], bool]:
    services = call.services
    visible: list[Repository] = []
    while len(visible) <= limit:
        batch = await services.repositories.list(after, 500)
        for repository in batch:
            if await services.access.allows_on(
                call.principal,
                "ecr:DescribeRepositories",
                repository,
                context=resource_tag_context(repository),
            ):
                visible.append(repository)
        if len(batch) < 500:
            break
        after = batch[-1].name
    return visible[:limit], len(visible) > limit


async def describe_repositories(call: Call) -> Result:
    """Named repositories (each authorized), or every repository the caller may describe."""
    names = call.params.get("repositoryNames")
    if names:
        if "maxResults" in call.params or "nextToken" in call.params:
            raise InvalidParameterError(
                "Invalid parameter at 'maxResults' failed to satisfy constraint: 'maxResults "
                "and nextToken cannot be used together with repositoryNames'"
            )
        found = await _named(call, names)
        return {"repositories": [repository_view(call, r) for r in found]}
    check_registry(call)
    cursor = decode_token(call.params.get("nextToken"), 1)
    page, more = await _visible(call, None if cursor is None else cursor[0], call.page_size())
    result: Result = {"repositories": [repository_view(call, r) for r in page]}
    if more:
        result["nextToken"] = encode_token([page[-1].name])
    return result


async def delete_repository(call: Call) -> Result:
    services = call.services
    repository = await authorize_repository(call, "ecr:DeleteRepository")
    force = bool(call.params.get("force", False))
    await services.repositories.delete(repository, force=force, registry_id=call.account)
    return {"repository": repository_view(call, repository)}


async def put_image_tag_mutability(call: Call) -> Result:
    services = call.services
    repository = await authorize_repository(call, "ecr:PutImageTagMutability")
    name = repository.name
    updated = await services.repositories.update(repository, **_mutability(call.params))
    result: Result = {
        "registryId": call.account,
        "repositoryName": name,
        "imageTagMutability": updated.tag_mutability,
    }
    if updated.tag_mutability_exclusions:
        result["imageTagMutabilityExclusionFilters"] = repository_view(call, updated)[
            "imageTagMutabilityExclusionFilters"
        ]
    return result


async def put_image_scanning_configuration(call: Call) -> Result:
    services = call.services
    repository = await authorize_repository(call, "ecr:PutImageScanningConfiguration")
    name = repository.name
    scan_on_push = bool(call.params["imageScanningConfiguration"].get("scanOnPush", False))
    await services.repositories.update(repository, scan_on_push=scan_on_push)
    return {
        "registryId": call.account,
        "repositoryName": name,
        "imageScanningConfiguration": {"scanOnPush": scan_on_push},
    }


def _repository_name_of_arn(call: Call, arn: str) -> str:
    prefix = f"{_ARN_PREFIX}{call.context.region}:{call.account}:repository/"
    if not arn.startswith(prefix) or len(arn) == len(prefix):
        raise InvalidParameterError(
            f"Invalid parameter at 'resourceArn' failed to satisfy constraint: "
            f"'Invalid ARN: {arn[:300]}'"
        )
    return arn[len(prefix) :]


async def tag_resource(call: Call) -> Result:
    tags = tag_pairs(call.params["tags"])
    name = _repository_name_of_arn(call, str(call.params["resourceArn"]))
    name, found = await find_repository(call, name)
    await call.services.access.authorize(
        call.principal,
        "ecr:TagResource",
        call.arn(name),
        context={**resource_tag_context(found), **request_tag_context(tags)},
        origin=call.origin,
    )
    repository = require_repository(call, name, found)
    merged = dict(repository.resource_tags) | dict(tags)
    if len(merged) > MAX_TAGS:
        raise TooManyTagsError(f"A repository can have at most {MAX_TAGS} tags")
    await call.services.repositories.update(repository, resource_tags=tuple(merged.items()))
    return {}


async def untag_resource(call: Call) -> Result:
    keys = [str(key) for key in call.params["tagKeys"]]
    name = _repository_name_of_arn(call, str(call.params["resourceArn"]))
    name, found = await find_repository(call, name)
    await call.services.access.authorize(
        call.principal,
        "ecr:UntagResource",
        call.arn(name),
        context={**resource_tag_context(found), "aws:TagKeys": keys},
        origin=call.origin,
    )
    repository = require_repository(call, name, found)
    kept = tuple((k, v) for k, v in repository.resource_tags if k not in keys)
    await call.services.repositories.update(repository, resource_tags=kept)
    return {}


async def list_tags_for_resource(call: Call) -> Result:
    name = _repository_name_of_arn(call, str(call.params["resourceArn"]))
    name, found = await find_repository(call, name)
    await call.services.access.authorize(
        call.principal,
        "ecr:ListTagsForResource",
        call.arn(name),
        context=resource_tag_context(found),
        origin=call.origin,
    )
    repository = require_repository(call, name, found)
    return {"tags": tag_list(repository.resource_tags)}
