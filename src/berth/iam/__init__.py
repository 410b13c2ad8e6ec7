"""The IAM policy engine: parse and validate policy documents, evaluate requests as AWS does.

Pure: no I/O. Callers load the policies that apply to a request and hand them to ``evaluate``.
"""

from berth.iam.actions import registry_actions, repository_arn
from berth.iam.documents import Effect, Policy, PolicyKind, Statement, parse_policy
from berth.iam.evaluate import (
    ROOT_MAY_NOT_ASSUME_ROLES,
    AuthorizationRequest,
    DecidingStatement,
    Decision,
    NamedPolicy,
    Outcome,
    PolicyType,
    evaluate,
    resource_policy_names,
)

__all__ = [
    "ROOT_MAY_NOT_ASSUME_ROLES",
    "AuthorizationRequest",
    "DecidingStatement",
    "Decision",
    "Effect",
    "NamedPolicy",
    "Outcome",
    "Policy",
    "PolicyKind",
    "PolicyType",
    "Statement",
    "evaluate",
    "parse_policy",
    "registry_actions",
    "repository_arn",
    "resource_policy_names",
]
