"""The reference workflow's DockerRegistryConsumerPolicy, built as the reference builds it.

shared/reference/000_412687ef06c12c27.txt writes it with awacs and troposphere; awacs 2.x spells
``iam.Action("ecr", X)`` as ``aws.Action("ecr", X)``, which yields the same JSON.
"""

from __future__ import annotations

import json

import troposphere.iam
from awacs.aws import Action, Allow, Everybody, Policy, Statement

__all__ = ["CONSUMER_ACTIONS", "consumer_policy", "consumer_policy_json"]

CONSUMER_ACTIONS = (
    "BatchCheckLayerAvailability",
    "BatchGetImage",
    "DescribeRepositories",
    "GetAuthorizationToken",
    "GetDownloadUrlForLayer",
    "GetRepositoryPolicy",
    "ListImages",
)


def consumer_policy() -> Policy:
    return Policy(
        Statement=[
            Statement(
                Effect=Allow,
                Action=[Action("ecr", name) for name in CONSUMER_ACTIONS],
                Resource=[Everybody],
            )
        ]
    )


def consumer_policy_json() -> str:
    """The ``PolicyDocument`` of the troposphere ``Policy``, as it would land in a template."""
    wrapped = troposphere.iam.Policy(
        PolicyName="DockerRegistryConsumerPolicy", PolicyDocument=consumer_policy()
    )
    return json.dumps(wrapped.to_dict()["PolicyDocument"])
