from __future__ import annotations

import pytest

import berth.iam
from berth.iam import registry_actions, repository_arn
from berth.iam.actions import REGISTRY_ACTIONS
from berth.iam.arns import (
    assumed_role_arn,
    parse_arn,
    role_arn,
    role_arn_of_session,
    root_arn,
    user_arn,
)

HANDLERS = [
    "get_manifest", "head_manifest", "put_manifest", "delete_manifest", "get_blob", "head_blob",
    "delete_blob", "start_upload", "patch_upload", "complete_upload", "get_upload",
    "cancel_upload", "list_tags", "list_referrers", "catalog",
]  # fmt: skip


def test_every_handler_has_actions() -> None:
    assert sorted(REGISTRY_ACTIONS) == sorted(HANDLERS)
    assert all(a.startswith("ecr:") for h in HANDLERS for a in registry_actions(h))


def test_known_mappings() -> None:
    assert registry_actions("get_manifest") == ("ecr:BatchGetImage",)
    assert registry_actions("put_manifest") == ("ecr:PutImage",)
    assert registry_actions("head_blob") == ("ecr:BatchCheckLayerAvailability",)
    assert registry_actions("catalog") == ("ecr:DescribeRepositories",)


def test_unknown_handler() -> None:
    with pytest.raises(KeyError, match="no ECR actions"):
        registry_actions("get_nothing")


def test_public_api() -> None:
    assert sorted(berth.iam.__all__) == sorted(
        [
            "ROOT_MAY_NOT_ASSUME_ROLES", "AuthorizationRequest", "DecidingStatement", "Decision",
            "Effect", "NamedPolicy", "Outcome", "Policy", "PolicyKind", "PolicyType", "Statement",
            "evaluate", "parse_policy", "registry_actions", "repository_arn",
            "resource_policy_names",
        ]
    )  # fmt: skip
    assert all(hasattr(berth.iam, name) for name in berth.iam.__all__)


def test_arns() -> None:
    assert repository_arn("us-east-1", "123456789012", "team/web") == (
        "arn:aws:ecr:us-east-1:123456789012:repository/team/web"
    )
    assert root_arn("123456789012") == "arn:aws:iam::123456789012:root"
    assert user_arn("123456789012", "ci") == "arn:aws:iam::123456789012:user/ci"
    assert role_arn("123456789012", "r", "/ops/") == "arn:aws:iam::123456789012:role/ops/r"
    session = assumed_role_arn("123456789012", "deploy", "s1")
    assert session == "arn:aws:sts::123456789012:assumed-role/deploy/s1"
    assert role_arn_of_session(session) == "arn:aws:iam::123456789012:role/deploy"
    assert role_arn_of_session("arn:aws:iam::123456789012:user/ci") is None
    arn = parse_arn("arn:aws:ecr:us-east-1:123456789012:repository/a:b")
    assert arn is not None
    assert (arn.service, arn.account, arn.resource) == ("ecr", "123456789012", "repository/a:b")
    assert arn.resource_type == "repository"
    assert str(arn) == "arn:aws:ecr:us-east-1:123456789012:repository/a:b"
    assert parse_arn("not-an-arn") is None
