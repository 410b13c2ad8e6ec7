"""Lifecycle policy operations, delegated to the lifecycle service (which validates and runs
the policies as ECR does)."""

from __future__ import annotations

from typing import Any

from berth.api.ecr.calls import (
    Call,
    Result,
    authorize_repository,
    decode_token,
    encode_token,
)
from berth.errors import LifecyclePolicyNotFoundError, LifecyclePolicyPreviewNotFoundError
from berth.meta.base import Repository
from berth.services.lifecycle import LifecyclePreview, PreviewResult

__all__ = [
    "delete_lifecycle_policy",
    "get_lifecycle_policy",
    "get_lifecycle_policy_preview",
    "put_lifecycle_policy",
    "start_lifecycle_policy_preview",
]


def _reply(call: Call, repository: Repository, text: str) -> Result:
    return {
        "registryId": call.account,
        "repositoryName": repository.name,
        "lifecyclePolicyText": text,
    }


async def put_lifecycle_policy(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:PutLifecyclePolicy")
    text = str(call.params["lifecyclePolicyText"])
    await call.services.lifecycle.put_policy(repository, text)
    return _reply(call, repository, text)


async def get_lifecycle_policy(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:GetLifecyclePolicy")
    lifecycle = call.services.lifecycle
    text = await lifecycle.get_policy(repository)
    if text is None:
        raise LifecyclePolicyNotFoundError(
            f"Lifecycle policy does not exist for the repository with name "
            f"'{repository.name}' in the registry with id '{call.account}'"
        )
    reply = _reply(call, repository, text)
    reply["lastEvaluatedAt"] = await lifecycle.last_evaluated(repository)
    return reply


async def delete_lifecycle_policy(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:DeleteLifecyclePolicy")
    lifecycle = call.services.lifecycle
    evaluated = await lifecycle.last_evaluated(repository)
    text = await lifecycle.delete_policy(repository)
    reply = _reply(call, repository, text)
    reply["lastEvaluatedAt"] = evaluated
    return reply


async def start_lifecycle_policy_preview(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:StartLifecyclePolicyPreview")
    text = call.params.get("lifecyclePolicyText")
    preview = await call.services.lifecycle.preview(repository, text)
    reply = _reply(call, repository, preview.policy_text)
    reply["status"] = preview.status
    return reply


def _selected(call: Call, results: list[PreviewResult]) -> list[PreviewResult]:
    ids = call.params.get("imageIds") or []
    status = str((call.params.get("filter") or {}).get("tagStatus") or "ANY")
    if ids:
        digests = {i.get("imageDigest") for i in ids} - {None}
        tags = {i.get("imageTag") for i in ids} - {None}
        results = [r for r in results if r.image_digest in digests or tags & set(r.image_tags)]
    if status == "TAGGED":
        return [r for r in results if r.image_tags]
    if status == "UNTAGGED":
        return [r for r in results if not r.image_tags]
    return results


def _result(result: PreviewResult) -> dict[str, Any]:
    return {
        "imageTags": list(result.image_tags) or None,
        "imageDigest": result.image_digest,
        "imagePushedAt": result.image_pushed_at,
        "action": {"type": result.action_type},
        "appliedRulePriority": result.applied_rule_priority,
    }


def _page(call: Call, preview: LifecyclePreview) -> tuple[list[PreviewResult], str | None]:
    results = _selected(call, preview.results)
    cursor = decode_token(call.params.get("nextToken"), 1)
    start = 0 if cursor is None or not cursor[0].isdigit() else int(cursor[0])
    limit = int(call.params.get("maxResults") or 100)
    more = len(results) > start + limit
    return results[start : start + limit], encode_token([str(start + limit)]) if more else None


async def get_lifecycle_policy_preview(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:GetLifecyclePolicyPreview")
    preview = await call.services.lifecycle.get_preview(repository)
    if preview is None:
        raise LifecyclePolicyPreviewNotFoundError(
            f"There is no lifecycle policy preview for the repository with name "
            f"'{repository.name}' in the registry with id '{call.account}'"
        )
    page, token = _page(call, preview)
    reply = _reply(call, repository, preview.policy_text)
    reply["status"] = preview.status
    reply["previewResults"] = [_result(r) for r in page]
    reply["summary"] = {"expiringImageTotalCount": preview.summary_expiring_count}
    reply["nextToken"] = token
    return reply
