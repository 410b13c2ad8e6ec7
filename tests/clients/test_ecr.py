"""The ECR API through boto3 on a real server: repositories, tags, policies, the registry,
templates, account settings, and AWS's error shapes for bad input."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from .conftest import RegistryServer
from .ecr_support import (
    ACCOUNT_ID,
    PARSED_OPERATIONS,
    REGION,
    ecr_client,
    error_of,
    raw_call,
    serve,
)

pytestmark = [pytest.mark.clients]

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "pull",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
)
LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep ten",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": 10,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from serve(tmp_path_factory, "ecr")


@pytest.fixture(scope="module")
def ecr(server: RegistryServer) -> Iterator[Any]:
    client = ecr_client(server)
    yield client
    client.close()


@pytest.fixture
def name(ecr: Any) -> str:
    repository = f"ecr/test-{uuid.uuid4().hex[:10]}"
    ecr.create_repository(repositoryName=repository)
    return repository


def code_of(error: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


# -- repositories ---------------------------------------------------------------------------


def test_create_repository_with_settings(ecr: Any, server: RegistryServer) -> None:
    repository = f"ecr/create-{uuid.uuid4().hex[:8]}"
    created = ecr.create_repository(
        repositoryName=repository,
        tags=[{"Key": "team", "Value": "web"}],
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest*"}],
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "alias/berth"},
    )["repository"]
    assert created["repositoryArn"] == f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{repository}"
    assert created["registryId"] == ACCOUNT_ID
    assert created["repositoryUri"] == f"{server.host}/{repository}"
    assert created["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert created["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "latest*"}
    ]
    assert created["imageScanningConfiguration"] == {"scanOnPush": True}
    assert created["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": "alias/berth"}
    tags = ecr.list_tags_for_resource(resourceArn=created["repositoryArn"])["tags"]
    assert tags == [{"Key": "team", "Value": "web"}]


def test_create_repository_twice_is_refused(ecr: Any, name: str) -> None:
    with pytest.raises(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=name)


def test_create_repository_exclusions_need_the_exclusion_setting(ecr: Any) -> None:
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.create_repository(
            repositoryName=f"ecr/x-{uuid.uuid4().hex[:8]}",
            imageTagMutability="IMMUTABLE",
            imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "v*"}],
        )
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.create_repository(
            repositoryName=f"ecr/x-{uuid.uuid4().hex[:8]}",
            imageTagMutability="MUTABLE_WITH_EXCLUSION",
        )


def test_create_repository_reserved_tag_key(ecr: Any) -> None:
    with pytest.raises(ecr.exceptions.InvalidTagParameterException):
        ecr.create_repository(
            repositoryName=f"ecr/x-{uuid.uuid4().hex[:8]}", tags=[{"Key": "aws:x", "Value": "1"}]
        )


def test_describe_repositories_named_and_missing(ecr: Any, name: str) -> None:
    found = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert [r["repositoryName"] for r in found] == [name]
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException) as error:
        ecr.describe_repositories(repositoryNames=[name, "ecr/missing"])
    assert "ecr/missing" in str(error.value)


def test_describe_repositories_paginates(ecr: Any) -> None:
    prefix = f"ecr/page-{uuid.uuid4().hex[:6]}"
    names = {f"{prefix}/r{number}" for number in range(5)}
    for repository in names:
        ecr.create_repository(repositoryName=repository)
    first = ecr.describe_repositories(maxResults=2)
    assert len(first["repositories"]) == 2 and first["nextToken"]
    paginator = ecr.get_paginator("describe_repositories")
    seen = [
        r["repositoryName"]
        for page in paginator.paginate(PaginationConfig={"PageSize": 2})
        for r in page["repositories"]
    ]
    assert names <= set(seen)
    assert len(seen) == len(set(seen))
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.describe_repositories(maxResults=2, nextToken="not-a-token")


def test_delete_repository_and_force(ecr: Any, name: str) -> None:
    deleted = ecr.delete_repository(repositoryName=name)["repository"]
    assert deleted["repositoryName"] == name
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.delete_repository(repositoryName=name)


def test_put_image_tag_mutability(ecr: Any, name: str) -> None:
    reply = ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="IMMUTABLE")
    assert reply["imageTagMutability"] == "IMMUTABLE"
    reply = ecr.put_image_tag_mutability(
        repositoryName=name,
        imageTagMutability="MUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "release-*"}],
    )
    assert reply["imageTagMutabilityExclusionFilters"][0]["filter"] == "release-*"
    described = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert described["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.put_image_tag_mutability(repositoryName="ecr/missing", imageTagMutability="MUTABLE")


def test_put_image_scanning_configuration(ecr: Any, name: str) -> None:
    reply = ecr.put_image_scanning_configuration(
        repositoryName=name, imageScanningConfiguration={"scanOnPush": True}
    )
    assert reply["imageScanningConfiguration"] == {"scanOnPush": True}
    described = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}


def test_tag_untag_and_list_tags(ecr: Any, name: str) -> None:
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{name}"
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "3"}])
    ecr.untag_resource(resourceArn=arn, tagKeys=["b"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "a", "Value": "3"}]
    too_many = [{"Key": f"k{number}", "Value": "v"} for number in range(51)]
    with pytest.raises(ecr.exceptions.TooManyTagsException):
        ecr.tag_resource(resourceArn=arn, tags=too_many)
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.list_tags_for_resource(
            resourceArn=f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/ecr/missing"
        )


# -- policies -------------------------------------------------------------------------------


def test_repository_policy_set_get_delete(ecr: Any, name: str) -> None:
    with pytest.raises(ecr.exceptions.RepositoryPolicyNotFoundException):
        ecr.get_repository_policy(repositoryName=name)
    assert ecr.set_repository_policy(repositoryName=name, policyText=POLICY)["policyText"] == POLICY
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == POLICY
    assert ecr.delete_repository_policy(repositoryName=name)["policyText"] == POLICY
    with pytest.raises(ecr.exceptions.RepositoryPolicyNotFoundException):
        ecr.delete_repository_policy(repositoryName=name)


def test_repository_policy_must_be_valid(ecr: Any, name: str) -> None:
    for text in ("not json", json.dumps({"Statement": [{"Effect": "Maybe"}]})):
        with pytest.raises(ecr.exceptions.InvalidParameterException) as error:
            ecr.set_repository_policy(repositoryName=name, policyText=text)
        assert "Invalid repository policy provided" in str(error.value)


def test_registry_policy_put_get_delete(ecr: Any) -> None:
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                    "Action": ["ecr:ReplicateImage"],
                    "Resource": [f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/*"],
                }
            ],
        }
    )
    assert ecr.put_registry_policy(policyText=policy)["registryId"] == ACCOUNT_ID
    assert ecr.get_registry_policy()["policyText"] == policy
    assert ecr.delete_registry_policy()["policyText"] == policy
    with pytest.raises(ecr.exceptions.RegistryPolicyNotFoundException):
        ecr.get_registry_policy()
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_registry_policy(policyText="{}")


# -- lifecycle ------------------------------------------------------------------------------


def test_lifecycle_policy_put_get_delete(ecr: Any, name: str) -> None:
    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.get_lifecycle_policy(repositoryName=name)
    put = ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=LIFECYCLE)
    assert put["lifecyclePolicyText"] == LIFECYCLE
    assert ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"] == LIFECYCLE
    assert ecr.delete_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"] == LIFECYCLE
    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.delete_lifecycle_policy(repositoryName=name)


def test_lifecycle_policy_is_validated(ecr: Any, name: str) -> None:
    bad = LIFECYCLE.replace('"expire"', '"explode"')
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=bad)


def test_lifecycle_policy_preview(ecr: Any, name: str) -> None:
    with pytest.raises(ecr.exceptions.LifecyclePolicyPreviewNotFoundException):
        ecr.get_lifecycle_policy_preview(repositoryName=name)
    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.start_lifecycle_policy_preview(repositoryName=name)
    started = ecr.start_lifecycle_policy_preview(repositoryName=name, lifecyclePolicyText=LIFECYCLE)
    assert started["status"] in ("IN_PROGRESS", "COMPLETE")
    preview = ecr.get_lifecycle_policy_preview(repositoryName=name)
    assert preview["status"] == "COMPLETE"
    assert preview["previewResults"] == []
    assert preview["summary"]["expiringImageTotalCount"] == 0


# -- the registry ---------------------------------------------------------------------------


def test_describe_registry(ecr: Any) -> None:
    reply = ecr.describe_registry()
    assert reply["registryId"] == ACCOUNT_ID
    assert reply["replicationConfiguration"] == {"rules": []}


def test_get_authorization_token(ecr: Any, server: RegistryServer) -> None:
    (data,) = ecr.get_authorization_token()["authorizationData"]
    assert data["proxyEndpoint"] == server.url
    assert data["expiresAt"].timestamp() > 0
    user, _, token = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and token


def test_account_settings(ecr: Any) -> None:
    assert ecr.get_account_setting(name="BLOB_MOUNTING")["value"] == "ENABLED"
    reply = ecr.put_account_setting(name="BASIC_SCAN_TYPE_VERSION", value="CLAIR")
    assert reply == {**reply, "name": "BASIC_SCAN_TYPE_VERSION", "value": "CLAIR"}
    assert ecr.get_account_setting(name="BASIC_SCAN_TYPE_VERSION")["value"] == "CLAIR"
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_account_setting(name="BLOB_MOUNTING", value="SOMETIMES")
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.get_account_setting(name="NO_SUCH_SETTING")


# -- repository creation templates -----------------------------------------------------------


def test_creation_templates(ecr: Any) -> None:
    prefix = f"tpl-{uuid.uuid4().hex[:8]}"
    created = ecr.create_repository_creation_template(
        prefix=prefix,
        description="team repositories",
        appliedFor=["CREATE_ON_PUSH"],
        imageTagMutability="IMMUTABLE",
        resourceTags=[{"Key": "team", "Value": "t"}],
        repositoryPolicy=POLICY,
        lifecyclePolicy=LIFECYCLE,
    )["repositoryCreationTemplate"]
    assert created["prefix"] == prefix and created["appliedFor"] == ["CREATE_ON_PUSH"]
    with pytest.raises(ecr.exceptions.TemplateAlreadyExistsException):
        ecr.create_repository_creation_template(prefix=prefix, appliedFor=["CREATE_ON_PUSH"])
    described = ecr.describe_repository_creation_templates(prefixes=[prefix])
    assert described["repositoryCreationTemplates"][0]["description"] == "team repositories"
    updated = ecr.update_repository_creation_template(prefix=prefix, description="changed")
    assert updated["repositoryCreationTemplate"]["description"] == "changed"
    assert updated["repositoryCreationTemplate"]["imageTagMutability"] == "IMMUTABLE"
    deleted = ecr.delete_repository_creation_template(prefix=prefix)
    assert deleted["repositoryCreationTemplate"]["prefix"] == prefix
    with pytest.raises(ecr.exceptions.TemplateNotFoundException):
        ecr.delete_repository_creation_template(prefix=prefix)
    with pytest.raises(ecr.exceptions.TemplateNotFoundException):
        ecr.describe_repository_creation_templates(prefixes=[prefix])


# -- operations not built -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "kwargs", "operation"),
    [
        ("describe_pull_through_cache_rules", {}, "DescribePullThroughCacheRules"),
        ("get_registry_scanning_configuration", {}, "GetRegistryScanningConfiguration"),
        (
            "put_replication_configuration",
            {"replicationConfiguration": {"rules": []}},
            "PutReplicationConfiguration",
        ),
        (
            "start_image_scan",
            {"repositoryName": "x1", "imageId": {"imageTag": "a"}},
            "StartImageScan",
        ),
    ],
)
def test_operations_not_built_answer_a_clear_error(
    ecr: Any, method: str, kwargs: dict[str, Any], operation: str
) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as error:
        getattr(ecr, method)(**kwargs)
    assert code_of(error) == "ValidationException"
    assert operation in error.value.response["Error"]["Message"]


# -- bad input: AWS's error shapes, never a 500 ---------------------------------------------


def test_wrong_target_prefix(server: RegistryServer) -> None:
    response = raw_call(
        server, "", {}, target="AmazonEC2ContainerRegistry_V20150922.DescribeRepositories"
    )
    assert error_of(response)[:2] == (400, "UnknownOperationException")


def test_unknown_operation(server: RegistryServer) -> None:
    response = raw_call(server, "DescribeEverything", {})
    assert error_of(response)[:2] == (400, "UnknownOperationException")


def test_body_that_is_not_json(server: RegistryServer) -> None:
    response = raw_call(server, "DescribeRepositories", "{not json")
    assert error_of(response)[:2] == (400, "SerializationException")


def test_wrong_content_type(server: RegistryServer) -> None:
    response = raw_call(server, "DescribeRepositories", {}, content_type="text/plain")
    assert error_of(response)[:2] == (400, "SerializationException")


def test_missing_required_member(server: RegistryServer) -> None:
    status, kind, message = error_of(raw_call(server, "CreateRepository", {}))
    assert (status, kind) == (400, "ValidationException")
    assert message == (
        "1 validation error detected: Value null at 'repositoryName' failed to satisfy "
        "constraint: Member must not be null"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"repositoryName": 5},
        {"repositoryName": "ok-name", "tags": "x"},
        {"repositoryName": "ok-name", "imageScanningConfiguration": {"scanOnPush": "yes"}},
    ],
)
def test_wrong_types(server: RegistryServer, body: dict[str, Any]) -> None:
    assert error_of(raw_call(server, "CreateRepository", body))[:2] == (
        400,
        "SerializationException",
    )


def test_name_too_long_and_bad_pattern(server: RegistryServer) -> None:
    status, kind, message = error_of(
        raw_call(server, "CreateRepository", {"repositoryName": "a" * 257})
    )
    assert (status, kind) == (400, "ValidationException")
    assert "Member must have length less than or equal to 256" in message
    status, kind, message = error_of(
        raw_call(server, "CreateRepository", {"repositoryName": "Bad"})
    )
    assert (status, kind) == (400, "ValidationException")
    assert message.startswith(
        "1 validation error detected: Value 'Bad' at 'repositoryName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
    )


def test_bad_enum_and_range_name_every_error(server: RegistryServer) -> None:
    body = {"repositoryName": "x", "imageTagMutability": "SOMETIMES"}
    status, kind, message = error_of(raw_call(server, "CreateRepository", body))
    assert (status, kind) == (400, "ValidationException")
    assert message.startswith("2 validation errors detected: ")
    assert "Member must have length greater than or equal to 2" in message
    assert (
        "Value 'SOMETIMES' at 'imageTagMutability' failed to satisfy constraint: Member must "
        "satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, "
        "MUTABLE_WITH_EXCLUSION]"
    ) in message
    status, kind, message = error_of(raw_call(server, "DescribeRepositories", {"maxResults": 0}))
    assert (status, kind) == (400, "ValidationException")
    assert "Value '0' at 'maxResults'" in message
    assert "Member must have value greater than or equal to 1" in message


def test_nested_member_paths(server: RegistryServer) -> None:
    body = {"repositoryName": "abc", "imageIds": [{"imageTag": ""}]}
    status, kind, message = error_of(raw_call(server, "BatchGetImage", body))
    assert (status, kind) == (400, "ValidationException")
    assert "at 'imageIds.1.member.imageTag'" in message


def test_unsigned_request(server: RegistryServer) -> None:
    response = raw_call(server, "DescribeRepositories", {}, signed=False)
    assert error_of(response)[:2] == (403, "MissingAuthenticationTokenException")


def test_wrong_signature(server: RegistryServer) -> None:
    response = raw_call(server, "DescribeRepositories", {}, secret="not-the-secret")
    assert error_of(response)[:2] == (403, "InvalidSignatureException")


def test_wrong_region(server: RegistryServer) -> None:
    status, kind, message = error_of(
        raw_call(server, "DescribeRepositories", {}, region="eu-west-1")
    )
    assert (status, kind) == (403, "InvalidSignatureException")
    assert "Credential should be scoped to a valid region" in message


def test_boto3_without_client_validation_gets_server_validation(server: RegistryServer) -> None:
    client = ecr_client(server, parameter_validation=False)
    with pytest.raises(client.exceptions.ClientError) as error:
        client.create_repository(repositoryName="Not/Valid")
    assert code_of(error) == "ValidationException"
    client.close()


def test_zz_every_reply_here_was_parsed_by_botocore() -> None:
    """Every boto3 reply above went through botocore's parser and the model check (ecr_support)."""
    wanted = {
        "CreateRepository",
        "DeleteLifecyclePolicy",
        "DeleteRegistryPolicy",
        "DeleteRepository",
        "DeleteRepositoryCreationTemplate",
        "DeleteRepositoryPolicy",
        "DescribeRegistry",
        "DescribeRepositories",
        "DescribeRepositoryCreationTemplates",
        "GetAccountSetting",
        "GetAuthorizationToken",
        "GetLifecyclePolicy",
        "GetLifecyclePolicyPreview",
        "GetRegistryPolicy",
        "GetRepositoryPolicy",
        "CreateRepositoryCreationTemplate",
        "ListTagsForResource",
        "PutAccountSetting",
        "PutImageScanningConfiguration",
        "PutImageTagMutability",
        "PutLifecyclePolicy",
        "PutRegistryPolicy",
        "SetRepositoryPolicy",
        "StartLifecyclePolicyPreview",
        "TagResource",
        "UntagResource",
        "UpdateRepositoryCreationTemplate",
    }
    assert wanted - PARSED_OPERATIONS == set()
