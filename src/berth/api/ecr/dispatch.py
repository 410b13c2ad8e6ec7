"""``POST /`` for the ECR API: the target checked exactly, the caller signed in, the input checked
against botocore's model, one handler per operation from an explicit table, the reply shaped
by the same model."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from berth.api.aws import AwsContext, read_body, sign_in
from berth.api.ecr import images, layers, lifecycle, policies, registry, repositories, templates
from berth.api.ecr.calls import Call, Result
from berth.api.ecr.render import CONTENT_TYPE, render_error, render_reply
from berth.api.ecr.shapes import EcrModel
from berth.api.ecr.unsupported import not_built
from berth.api.metrics import label_request
from berth.errors import (
    BerthError,
    MissingAuthenticationTokenError,
    SerializationError,
    ServerError,
    UnknownOperationError,
)
from berth.services.access import Origin
from berth.types import Principal

__all__ = ["OPERATIONS", "TARGET_PREFIX", "EcrState", "handle"]

log = logging.getLogger("berth.api.ecr")

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."

Handler = Callable[[Call], Awaitable[Result]]

OPERATIONS: dict[str, Handler] = {
    # repositories
    "CreateRepository": repositories.create_repository,
    "DescribeRepositories": repositories.describe_repositories,
    "DeleteRepository": repositories.delete_repository,
    "PutImageTagMutability": repositories.put_image_tag_mutability,
    "PutImageScanningConfiguration": repositories.put_image_scanning_configuration,
    "TagResource": repositories.tag_resource,
    "UntagResource": repositories.untag_resource,
    "ListTagsForResource": repositories.list_tags_for_resource,
    # images
    "ListImages": images.list_images,
    "DescribeImages": images.describe_images,
    "BatchGetImage": images.batch_get_image,
    "BatchDeleteImage": images.batch_delete_image,
    "PutImage": images.put_image,
    "ListImageReferrers": images.list_image_referrers,
    # layers
    "BatchCheckLayerAvailability": layers.batch_check_layer_availability,
    "InitiateLayerUpload": layers.initiate_layer_upload,
    "UploadLayerPart": layers.upload_layer_part,
    "CompleteLayerUpload": layers.complete_layer_upload,
    "GetDownloadUrlForLayer": layers.get_download_url_for_layer,
    # policies
    "SetRepositoryPolicy": policies.set_repository_policy,
    "GetRepositoryPolicy": policies.get_repository_policy,
    "DeleteRepositoryPolicy": policies.delete_repository_policy,
    "PutRegistryPolicy": policies.put_registry_policy,
    "GetRegistryPolicy": policies.get_registry_policy,
    "DeleteRegistryPolicy": policies.delete_registry_policy,
    # lifecycle
    "PutLifecyclePolicy": lifecycle.put_lifecycle_policy,
    "GetLifecyclePolicy": lifecycle.get_lifecycle_policy,
    "DeleteLifecyclePolicy": lifecycle.delete_lifecycle_policy,
    "StartLifecyclePolicyPreview": lifecycle.start_lifecycle_policy_preview,
    "GetLifecyclePolicyPreview": lifecycle.get_lifecycle_policy_preview,
    # the registry
    "DescribeRegistry": registry.describe_registry,
    "GetAuthorizationToken": registry.get_authorization_token,
    "GetAccountSetting": registry.get_account_setting,
    "PutAccountSetting": registry.put_account_setting,
    # repository creation templates
    "CreateRepositoryCreationTemplate": templates.create_repository_creation_template,
    "DescribeRepositoryCreationTemplates": templates.describe_repository_creation_templates,
    "UpdateRepositoryCreationTemplate": templates.update_repository_creation_template,
    "DeleteRepositoryCreationTemplate": templates.delete_repository_creation_template,
    # not built yet: pull-through cache, replication, scanning, signing, storage classes
    "BatchGetRepositoryScanningConfiguration": not_built,
    "CreatePullThroughCacheRule": not_built,
    "DeletePullThroughCacheRule": not_built,
    "DeleteSigningConfiguration": not_built,
    "DeregisterPullTimeUpdateExclusion": not_built,
    "DescribeImageReplicationStatus": not_built,
    "DescribeImageScanFindings": not_built,
    "DescribeImageSigningStatus": not_built,
    "DescribePullThroughCacheRules": not_built,
    "DescribeReplicationBackfillResults": not_built,
    "GetRegistryScanningConfiguration": not_built,
    "GetSigningConfiguration": not_built,
    "ListPullTimeUpdateExclusions": not_built,
    "ListReplicationBackfills": not_built,
    "PutRegistryScanningConfiguration": not_built,
    "PutReplicationConfiguration": not_built,
    "PutSigningConfiguration": not_built,
    "RegisterPullTimeUpdateExclusion": not_built,
    "StartImageScan": not_built,
    "StartReplicationBackfill": not_built,
    "StopReplicationBackfill": not_built,
    "UpdateImageStorageClass": not_built,
    "UpdatePullThroughCacheRule": not_built,
    "ValidatePullThroughCacheRule": not_built,
}


@dataclass(frozen=True, slots=True)
class EcrState:
    context: AwsContext
    model: EcrModel


def _operation(request: Request, model: EcrModel) -> str:
    target = request.headers.get("x-amz-target", "")
    name = target.removeprefix(TARGET_PREFIX)
    known = name in OPERATIONS and name in model.operation_names
    if not target.startswith(TARGET_PREFIX) or not known:
        raise UnknownOperationError(f"Unknown operation {target[:200]!r}")
    return name


def _check_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != CONTENT_TYPE:
        raise SerializationError(
            f"The ECR API takes {CONTENT_TYPE} bodies, not {content_type[:100] or 'none'!r}"
        )


def _is_signed(request: Request) -> bool:
    return "authorization" in request.headers or "X-Amz-Credential" in request.query_params


def _base_url(request: Request, context: AwsContext) -> str:
    if context.public_url:
        return context.public_url.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


async def _principal(request: Request, body: bytes, context: AwsContext) -> Principal:
    if not _is_signed(request):
        raise MissingAuthenticationTokenError("Missing Authentication Token")
    principal, _ = await sign_in(
        request, body, context, service="ecr", query_api=False, region=context.region
    )
    return principal


async def _call(request: Request, state: EcrState, request_id: str) -> Result:
    operation = _operation(request, state.model)
    label_request(request.scope, "ecr", operation)
    _check_content_type(request)
    body = await read_body(request)
    principal = await _principal(request, body, state.context)
    params = state.model.parse_input(operation, body)
    client = request.client.host if request.client is not None else ""
    origin = Origin(client, request_id, request.url.scheme == "https")
    context = state.context
    call = Call(
        operation,
        context,
        principal,
        params,
        origin,
        _base_url(request, context),
        host=request.headers.get("host", ""),
        server=request.scope.get("server"),
    )
    return state.model.render_output(operation, await OPERATIONS[operation](call))


async def handle(request: Request) -> Response:
    state: EcrState = request.app.state.ecr
    request_id = str(uuid.uuid4())
    try:
        return render_reply(await _call(request, state, request_id), request_id)
    except BerthError as error:
        return render_error(error, request_id)
    except Exception:
        log.exception("unexpected error in the ECR API (request %s)", request_id)
        return render_error(ServerError("internal error; the server log has details"), request_id)
