"""Builders shared by the IAM tests: principals, statements, policies, requests."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from berth.iam import (
    AuthorizationRequest,
    Decision,
    NamedPolicy,
    Outcome,
    PolicyKind,
    PolicyType,
    evaluate,
    parse_policy,
)
from berth.iam.variables import ContextInput
from berth.types import Principal, PrincipalKind

ACCOUNT = "123456789012"
OTHER = "210987654321"
REPO = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/web"
USER = Principal(PrincipalKind.USER, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/ci", "AIDACI", "ci")
ALICE = Principal(
    PrincipalKind.USER, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAALICE", "alice"
)
OUTSIDER = Principal(PrincipalKind.USER, OTHER, f"arn:aws:iam::{OTHER}:user/bob", "AIDABOB", "bob")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/deploy"
SESSION = Principal(
    PrincipalKind.ASSUMED_ROLE,
    ACCOUNT,
    f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/build-7",
    "AROADEPLOY:build-7",
    "deploy",
    session="build-7",
)
ROOT = Principal.root(ACCOUNT)
OTHER_ROOT = Principal.root(OTHER)
ANONYMOUS = Principal.anonymous(ACCOUNT)

Json = dict[str, Any]


def statement(
    effect: str = "Allow", action: Any = "ecr:*", resource: Any = "*", **more: Any
) -> Json:
    body: Json = {"Effect": effect}
    if "not_action" in more:
        body["NotAction"] = more.pop("not_action")
    else:
        body["Action"] = action
    if "not_resource" in more:
        body["NotResource"] = more.pop("not_resource")
    elif resource is not None:
        body["Resource"] = resource
    if "condition" in more:
        body["Condition"] = more.pop("condition")
    if "principal" in more:
        body["Principal"] = more.pop("principal")
    if "not_principal" in more:
        body["NotPrincipal"] = more.pop("not_principal")
    if "sid" in more:
        body["Sid"] = more.pop("sid")
    assert not more, more
    return body


def allow(action: Any = "ecr:*", resource: Any = "*", **more: Any) -> Json:
    return statement("Allow", action, resource, **more)


def deny(action: Any = "ecr:*", resource: Any = "*", **more: Any) -> Json:
    return statement("Deny", action, resource, **more)


def document(*statements: Json, version: str | None = "2012-10-17") -> str:
    body: Json = {"Statement": list(statements)}
    if version is not None:
        body["Version"] = version
    return json.dumps(body)


@dataclass(frozen=True)
class Case:
    """One evaluation: the policies, the request, and what AWS would decide."""

    name: str
    expect: Outcome
    reason: PolicyType | None = None
    identity: Sequence[Json] = ()
    resource_policy: Sequence[Json] | None = None
    boundary: Sequence[Json] | None = None
    sessions: Sequence[Sequence[Json]] = ()
    action: str = "ecr:BatchGetImage"
    resource: str = REPO
    context: Mapping[str, ContextInput] = field(default_factory=dict)
    principal: Principal = USER
    resource_account: str = ACCOUNT
    role_arn: str | None = None
    version: str | None = "2012-10-17"

    def request(self) -> AuthorizationRequest:
        identity = [
            NamedPolicy(
                f"policy{i}", parse_policy(document(s, version=self.version), PolicyKind.IDENTITY)
            )
            for i, s in enumerate(self.identity)
        ]
        return AuthorizationRequest(
            principal=self.principal,
            action=self.action,
            resource=self.resource,
            resource_account=self.resource_account,
            context=self.context,
            identity_policies=identity,
            resource_policy=_parse(self.resource_policy, PolicyKind.RESOURCE, self.version),
            permissions_boundary=_parse(self.boundary, PolicyKind.IDENTITY, self.version),
            session_policies=[
                parse_policy(document(*s, version=self.version), PolicyKind.IDENTITY)
                for s in self.sessions
            ],
            role_arn=self.role_arn,
        )

    def decide(self) -> Decision:
        return evaluate(self.request())


def _parse(statements: Sequence[Json] | None, kind: PolicyKind, version: str | None) -> Any:
    if statements is None:
        return None
    return parse_policy(document(*statements, version=version), kind)
