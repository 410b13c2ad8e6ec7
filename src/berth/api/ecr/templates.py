"""Repository creation templates: create, describe, update, delete."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from berth.api.ecr.calls import (
    Call,
    Result,
    check_registry,
    decode_token,
    encode_token,
    tag_list,
    tag_pairs,
)
from berth.api.ecr.policies import checked_policy
from berth.domain.lifecycle import parse_lifecycle_policy
from berth.domain.tags import check_tag_mutability
from berth.errors import InvalidParameterError
from berth.services.templates import CreationTemplate

__all__ = [
    "create_repository_creation_template",
    "delete_repository_creation_template",
    "describe_repository_creation_templates",
    "update_repository_creation_template",
]

_REGISTRY = "*"
_EPOCH = datetime.fromtimestamp(0, UTC)


def _view(template: CreationTemplate) -> Result:
    encryption: dict[str, Any] = {"encryptionType": template.encryption_type}
    if template.kms_key:
        encryption["kmsKey"] = template.kms_key
    view: Result = {
        "prefix": template.prefix,
        "description": template.description,
        "encryptionConfiguration": encryption,
        "resourceTags": tag_list(template.resource_tags),
        "imageTagMutability": template.tag_mutability,
        "repositoryPolicy": template.repository_policy,
        "lifecyclePolicy": template.lifecycle_policy,
        "appliedFor": list(template.applied_for),
        "customRoleArn": template.custom_role_arn,
        "createdAt": template.created_at,
        "updatedAt": template.updated_at,
    }
    if template.tag_mutability_exclusions:
        view["imageTagMutabilityExclusionFilters"] = [
            {"filterType": "WILDCARD", "filter": pattern}
            for pattern in template.tag_mutability_exclusions
        ]
    return view


def _changes(params: dict[str, Any]) -> dict[str, Any]:
    """Template fields named in the request, each checked."""
    changes: dict[str, Any] = {}
    if "description" in params:
        changes["description"] = params["description"]
    if "encryptionConfiguration" in params:
        encryption = params["encryptionConfiguration"]
        changes["encryption_type"] = encryption["encryptionType"]
        changes["kms_key"] = encryption.get("kmsKey")
    if "resourceTags" in params:
        changes["resource_tags"] = tuple(tag_pairs(params["resourceTags"]))
    if "imageTagMutability" in params:
        changes["tag_mutability"] = params["imageTagMutability"]
    if "imageTagMutabilityExclusionFilters" in params:
        filters = params["imageTagMutabilityExclusionFilters"]
        changes["tag_mutability_exclusions"] = tuple(f["filter"] for f in filters)
    if "repositoryPolicy" in params:
        changes["repository_policy"] = checked_policy(params["repositoryPolicy"], "repository")
    if "lifecyclePolicy" in params:
        parse_lifecycle_policy(params["lifecyclePolicy"])
        changes["lifecycle_policy"] = params["lifecyclePolicy"]
    if "appliedFor" in params:
        changes["applied_for"] = tuple(params["appliedFor"])
    if "customRoleArn" in params:
        changes["custom_role_arn"] = params["customRoleArn"]
    return changes


def _checked(template: CreationTemplate) -> CreationTemplate:
    check_tag_mutability(template.tag_mutability, template.tag_mutability_exclusions)
    if template.encryption_type == "AES256" and template.kms_key:
        raise InvalidParameterError(
            "Invalid parameter at 'encryptionConfiguration' failed to satisfy constraint: "
            "'a KMS key can only be given with the KMS or KMS_DSSE encryption type'"
        )
    if not template.applied_for:
        raise InvalidParameterError(
            "Invalid parameter at 'appliedFor' failed to satisfy constraint: "
            "'at least one of CREATE_ON_PUSH, PULL_THROUGH_CACHE, REPLICATION'"
        )
    return template


async def _authorize(call: Call, action: str) -> None:
    check_registry(call)
    await call.services.access.authorize(call.principal, action, _REGISTRY, origin=call.origin)


async def create_repository_creation_template(call: Call) -> Result:
    await _authorize(call, "ecr:CreateRepositoryCreationTemplate")
    draft = CreationTemplate(
        prefix=str(call.params["prefix"]), applied_for=(), created_at=_EPOCH, updated_at=_EPOCH
    )
    for name, value in _changes(call.params).items():
        draft = _replace(draft, name, value)
    created = await call.services.templates.create(_checked(draft))
    return {"registryId": call.account, "repositoryCreationTemplate": _view(created)}


def _replace(template: CreationTemplate, name: str, value: Any) -> CreationTemplate:
    return dataclasses.replace(template, **{name: value})


async def describe_repository_creation_templates(call: Call) -> Result:
    await _authorize(call, "ecr:DescribeRepositoryCreationTemplates")
    templates = await call.services.templates.describe(call.params.get("prefixes"))
    cursor = decode_token(call.params.get("nextToken"), 1)
    if cursor is not None:
        templates = [t for t in templates if t.prefix > cursor[0]]
    limit = call.page_size()
    result: Result = {
        "registryId": call.account,
        "repositoryCreationTemplates": [_view(t) for t in templates[:limit]],
    }
    if len(templates) > limit:
        result["nextToken"] = encode_token([templates[limit - 1].prefix])
    return result


async def update_repository_creation_template(call: Call) -> Result:
    await _authorize(call, "ecr:UpdateRepositoryCreationTemplate")
    prefix = str(call.params["prefix"])
    changes = _changes(call.params)
    (current,) = await call.services.templates.describe([prefix])
    for name, value in changes.items():
        current = _replace(current, name, value)
    _checked(current)
    updated = await call.services.templates.update(prefix, **changes)
    return {"registryId": call.account, "repositoryCreationTemplate": _view(updated)}


async def delete_repository_creation_template(call: Call) -> Result:
    await _authorize(call, "ecr:DeleteRepositoryCreationTemplate")
    deleted = await call.services.templates.delete(str(call.params["prefix"]))
    return {"registryId": call.account, "repositoryCreationTemplate": _view(deleted)}
