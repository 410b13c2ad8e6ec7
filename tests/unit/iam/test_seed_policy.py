"""The DockerRegistryConsumerPolicy from the reference workflow, generated with awacs."""

from __future__ import annotations

import json

import pytest
import troposphere.iam

from berth.iam import (
    AuthorizationRequest,
    NamedPolicy,
    Outcome,
    PolicyKind,
    evaluate,
    parse_policy,
    registry_actions,
    repository_arn,
)
from seed import CONSUMER_ACTIONS, consumer_policy

from .cases import ACCOUNT, USER

PULL = CONSUMER_ACTIONS
REPO = repository_arn("us-east-1", ACCOUNT, "web")


def consumer() -> NamedPolicy:
    text = consumer_policy().to_json()
    return NamedPolicy("DockerRegistryConsumerPolicy", parse_policy(text, PolicyKind.IDENTITY))


def decide(action: str) -> Outcome:
    request = AuthorizationRequest(USER, action, REPO, ACCOUNT, identity_policies=[consumer()])
    return evaluate(request).outcome


def test_awacs_json_is_the_reference_json() -> None:
    generated = json.loads(consumer_policy().to_json())
    assert "Version" not in generated
    assert generated["Statement"][0]["Resource"] == ["*"]
    wrapped = troposphere.iam.Policy(
        PolicyName="DockerRegistryConsumerPolicy", PolicyDocument=consumer_policy()
    ).to_dict()
    document = json.dumps(wrapped["PolicyDocument"])
    assert parse_policy(document, PolicyKind.IDENTITY).version == "2008-10-17"


@pytest.mark.parametrize("name", PULL)
def test_allows_every_listed_action(name: str) -> None:
    assert decide(f"ecr:{name}") is Outcome.ALLOW


@pytest.mark.parametrize(
    "operation", ["get_manifest", "head_manifest", "get_blob", "head_blob", "list_tags", "catalog"]
)
def test_allows_pull_operations(operation: str) -> None:
    assert all(decide(action) is Outcome.ALLOW for action in registry_actions(operation))


@pytest.mark.parametrize(
    "operation", ["put_manifest", "start_upload", "patch_upload", "complete_upload", "delete_blob"]
)
def test_refuses_push_operations(operation: str) -> None:
    assert all(decide(action) is Outcome.IMPLICIT_DENY for action in registry_actions(operation))


def test_put_image_refusal_is_aws_message() -> None:
    request = AuthorizationRequest(
        USER, "ecr:PutImage", REPO, ACCOUNT, identity_policies=[consumer()]
    )
    decision = evaluate(request)
    assert not decision.allowed
    assert decision.message == (
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:PutImage "
        "on resource: arn:aws:ecr:us-east-1:123456789012:repository/web because no "
        "identity-based policy allows the ecr:PutImage action"
    )
