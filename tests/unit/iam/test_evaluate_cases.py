"""The evaluation table: each case is policies + request -> the decision AWS would make."""

from __future__ import annotations

from typing import Any

import pytest

from berth.iam import ROOT_MAY_NOT_ASSUME_ROLES, Outcome, PolicyType
from berth.iam.variables import ContextInput

from .cases import (
    ACCOUNT,
    ALICE,
    ANONYMOUS,
    OTHER,
    OTHER_ROOT,
    OUTSIDER,
    REPO,
    ROLE_ARN,
    ROOT,
    SESSION,
    USER,
    Case,
    allow,
    deny,
)

ALLOW = Outcome.ALLOW
EXPLICIT = Outcome.EXPLICIT_DENY
IMPLICIT = Outcome.IMPLICIT_DENY
IDENTITY = PolicyType.IDENTITY
RESOURCE = PolicyType.RESOURCE
BOUNDARY = PolicyType.BOUNDARY
SESSION_POLICY = PolicyType.SESSION
EVERYONE = "*"
USER_PRINCIPAL = {"AWS": USER.arn}


def cond(  # noqa: PLR0917 - one table row per call
    name: str, operator: str, key: str, values: Any, context: dict[str, ContextInput], ok: bool
) -> Case:
    """An identity policy allowing under one condition; ``ok`` says whether it should hold."""
    return Case(
        name,
        ALLOW if ok else IMPLICIT,
        None if ok else IDENTITY,
        identity=[allow(condition={operator: {key: values}})],
        context=context,
    )


TAG = "aws:PrincipalTag/team"
IP = "aws:SourceIp"
TIME = "aws:CurrentTime"
KEYS = "aws:TagKeys"

CONDITION_CASES = [
    # String
    cond("StringEquals match", "StringEquals", TAG, "web", {TAG: "web"}, True),
    cond("StringEquals mismatch", "StringEquals", TAG, "web", {TAG: "db"}, False),
    cond("StringEquals is case-sensitive", "StringEquals", TAG, "web", {TAG: "WEB"}, False),
    cond("StringEquals values OR'ed", "StringEquals", TAG, ["db", "web"], {TAG: "web"}, True),
    cond("StringEquals missing key", "StringEquals", TAG, "web", {}, False),
    cond(
        "StringEquals key case-insensitive",
        "StringEquals",
        "AWS:principaltag/TEAM",
        "web",
        {"aws:PrincipalTag/team": "web"},
        True,
    ),
    cond(
        "StringEquals context key case-insensitive",
        "StringEquals",
        TAG,
        "web",
        {"AWS:PRINCIPALTAG/TEAM": "web"},
        True,
    ),
    cond("StringNotEquals differs", "StringNotEquals", TAG, "web", {TAG: "db"}, True),
    cond("StringNotEquals equal", "StringNotEquals", TAG, "web", {TAG: "web"}, False),
    cond("StringNotEquals missing key is true", "StringNotEquals", TAG, "web", {}, True),
    cond(
        "StringNotEquals any listed value",
        "StringNotEquals",
        TAG,
        ["db", "web"],
        {TAG: "web"},
        False,
    ),
    cond("StringEqualsIgnoreCase", "StringEqualsIgnoreCase", TAG, "Web", {TAG: "wEB"}, True),
    cond(
        "StringEqualsIgnoreCase mismatch", "StringEqualsIgnoreCase", TAG, "web", {TAG: "db"}, False
    ),
    cond(
        "StringNotEqualsIgnoreCase same",
        "StringNotEqualsIgnoreCase",
        TAG,
        "Web",
        {TAG: "WEB"},
        False,
    ),
    cond(
        "StringNotEqualsIgnoreCase differs",
        "StringNotEqualsIgnoreCase",
        TAG,
        "web",
        {TAG: "db"},
        True,
    ),
    cond("StringNotEqualsIgnoreCase missing", "StringNotEqualsIgnoreCase", TAG, "web", {}, True),
    cond("StringLike star", "StringLike", TAG, "we*", {TAG: "website"}, True),
    cond("StringLike question", "StringLike", TAG, "w?b", {TAG: "web"}, True),
    cond("StringLike question is one char", "StringLike", TAG, "w?b", {TAG: "weeb"}, False),
    cond("StringLike no match", "StringLike", TAG, "db*", {TAG: "web"}, False),
    cond("StringLike case-sensitive", "StringLike", TAG, "WE*", {TAG: "web"}, False),
    cond("StringLike star spans slashes", "StringLike", TAG, "a*z", {TAG: "a/b:c/z"}, True),
    cond("StringNotLike matching", "StringNotLike", TAG, "we*", {TAG: "web"}, False),
    cond("StringNotLike other", "StringNotLike", TAG, "we*", {TAG: "db"}, True),
    cond("StringNotLike missing", "StringNotLike", TAG, "we*", {}, True),
    cond("StringLike missing", "StringLike", TAG, "*", {}, False),
    # Numeric
    cond("NumericEquals", "NumericEquals", "ecr:count", "10", {"ecr:count": 10}, True),
    cond(
        "NumericEquals float text", "NumericEquals", "ecr:count", "10", {"ecr:count": "10.0"}, True
    ),
    cond("NumericEquals mismatch", "NumericEquals", "ecr:count", "10", {"ecr:count": 11}, False),
    cond("NumericEquals json number", "NumericEquals", "ecr:count", 10, {"ecr:count": "10"}, True),
    cond("NumericNotEquals", "NumericNotEquals", "ecr:count", "10", {"ecr:count": 11}, True),
    cond("NumericNotEquals equal", "NumericNotEquals", "ecr:count", "10", {"ecr:count": 10}, False),
    cond("NumericNotEquals missing", "NumericNotEquals", "ecr:count", "10", {}, True),
    cond("NumericLessThan", "NumericLessThan", "ecr:count", "10", {"ecr:count": 9}, True),
    cond("NumericLessThan equal", "NumericLessThan", "ecr:count", "10", {"ecr:count": 10}, False),
    cond(
        "NumericLessThanEquals", "NumericLessThanEquals", "ecr:count", "10", {"ecr:count": 10}, True
    ),
    cond("NumericGreaterThan", "NumericGreaterThan", "ecr:count", "10", {"ecr:count": 11}, True),
    cond(
        "NumericGreaterThan equal",
        "NumericGreaterThan",
        "ecr:count",
        "10",
        {"ecr:count": 10},
        False,
    ),
    cond(
        "NumericGreaterThanEquals",
        "NumericGreaterThanEquals",
        "ecr:count",
        "10",
        {"ecr:count": 10},
        True,
    ),
    cond("Numeric not a number", "NumericEquals", "ecr:count", "10", {"ecr:count": "ten"}, False),
    cond("Numeric missing", "NumericLessThan", "ecr:count", "10", {}, False),
    # Date
    cond(
        "DateLessThan ISO",
        "DateLessThan",
        TIME,
        "2030-01-01T00:00:00Z",
        {TIME: "2026-11-27T00:00:00Z"},
        True,
    ),
    cond(
        "DateLessThan ISO expired",
        "DateLessThan",
        TIME,
        "2020-01-01T00:00:00Z",
        {TIME: "2026-11-27T00:00:00Z"},
        False,
    ),
    cond(
        "DateGreaterThan",
        "DateGreaterThan",
        TIME,
        "2020-01-01T00:00:00Z",
        {TIME: "2026-11-27T00:00:00Z"},
        True,
    ),
    cond(
        "DateGreaterThanEquals same instant other zone",
        "DateGreaterThanEquals",
        TIME,
        "2026-11-27T01:00:00+01:00",
        {TIME: "2026-11-27T00:00:00Z"},
        True,
    ),
    cond(
        "DateEquals epoch vs ISO",
        "DateEquals",
        "aws:EpochTime",
        "1577836800",
        {"aws:EpochTime": "2020-01-01T00:00:00Z"},
        True,
    ),
    cond(
        "DateEquals epoch int context",
        "DateEquals",
        TIME,
        "2020-01-01T00:00:00Z",
        {TIME: 1577836800},
        True,
    ),
    cond(
        "DateNotEquals",
        "DateNotEquals",
        TIME,
        "2020-01-01T00:00:00Z",
        {TIME: "2021-01-01T00:00:00Z"},
        True,
    ),
    cond("DateNotEquals missing", "DateNotEquals", TIME, "2020-01-01T00:00:00Z", {}, True),
    cond(
        "DateLessThanEquals", "DateLessThanEquals", TIME, "2020-01-01", {TIME: "2020-01-01"}, True
    ),
    cond("Date unparseable", "DateLessThan", TIME, "2030-01-01", {TIME: "yesterday"}, False),
    # Bool
    cond("Bool true", "Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": True}, True),
    cond(
        "Bool false", "Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": False}, False
    ),
    cond(
        "Bool json boolean",
        "Bool",
        "aws:SecureTransport",
        False,
        {"aws:SecureTransport": False},
        True,
    ),
    cond("Bool case", "Bool", "aws:SecureTransport", "TRUE", {"aws:SecureTransport": "true"}, True),
    cond("Bool missing", "Bool", "aws:SecureTransport", "false", {}, False),
    # Binary
    cond("BinaryEquals", "BinaryEquals", "ecr:blob", "aGVsbG8=", {"ecr:blob": "aGVsbG8="}, True),
    cond(
        "BinaryEquals differs", "BinaryEquals", "ecr:blob", "aGVsbG8=", {"ecr:blob": "aGk="}, False
    ),
    cond(
        "BinaryEquals invalid base64",
        "BinaryEquals",
        "ecr:blob",
        "aGVsbG8=",
        {"ecr:blob": "%%"},
        False,
    ),
    # IP
    cond("IpAddress v4 in", "IpAddress", IP, "10.0.0.0/8", {IP: "10.1.2.3"}, True),
    cond("IpAddress v4 out", "IpAddress", IP, "10.0.0.0/8", {IP: "192.168.1.1"}, False),
    cond("IpAddress single address", "IpAddress", IP, "203.0.113.7", {IP: "203.0.113.7"}, True),
    cond(
        "IpAddress list",
        "IpAddress",
        IP,
        ["10.0.0.0/8", "192.168.0.0/16"],
        {IP: "192.168.1.1"},
        True,
    ),
    cond("IpAddress v6 in", "IpAddress", IP, "2001:db8::/32", {IP: "2001:db8::1"}, True),
    cond("IpAddress v6 out", "IpAddress", IP, "2001:db8::/32", {IP: "2001:db9::1"}, False),
    cond("IpAddress v4 against v6", "IpAddress", IP, "2001:db8::/32", {IP: "10.0.0.1"}, False),
    cond("IpAddress non-strict network", "IpAddress", IP, "10.1.2.3/8", {IP: "10.9.9.9"}, True),
    cond("IpAddress bad address", "IpAddress", IP, "10.0.0.0/8", {IP: "not-an-ip"}, False),
    cond("NotIpAddress out", "NotIpAddress", IP, "10.0.0.0/8", {IP: "192.168.1.1"}, True),
    cond("NotIpAddress in", "NotIpAddress", IP, "10.0.0.0/8", {IP: "10.1.1.1"}, False),
    cond("NotIpAddress missing", "NotIpAddress", IP, "10.0.0.0/8", {}, True),
    cond("IpAddress missing", "IpAddress", IP, "10.0.0.0/8", {}, False),
    # ARN
    cond("ArnEquals", "ArnEquals", "aws:PrincipalArn", USER.arn, {}, True),
    cond(
        "ArnLike wildcard",
        "ArnLike",
        "aws:PrincipalArn",
        f"arn:aws:iam::{ACCOUNT}:user/*",
        {},
        True,
    ),
    cond(
        "ArnLike other account",
        "ArnLike",
        "aws:PrincipalArn",
        f"arn:aws:iam::{OTHER}:user/*",
        {},
        False,
    ),
    cond(
        "ArnLike star does not span colons before resource",
        "ArnLike",
        "aws:PrincipalArn",
        "arn:aws:*:user/ci",
        {},
        False,
    ),
    cond(
        "ArnLike star per segment",
        "ArnLike",
        "aws:PrincipalArn",
        "arn:aws:iam::*:user/c?",
        {},
        True,
    ),
    cond("ArnNotEquals", "ArnNotEquals", "aws:PrincipalArn", ALICE.arn, {}, True),
    cond(
        "ArnNotLike matching", "ArnNotLike", "aws:PrincipalArn", "arn:aws:iam::*:user/*", {}, False
    ),
    cond(
        "ArnNotLike missing key", "ArnNotLike", "aws:SourceArn", "arn:aws:iam::*:user/*", {}, True
    ),
    cond("ArnLike missing key", "ArnLike", "aws:SourceArn", "arn:aws:iam::*:user/*", {}, False),
    # Null
    cond("Null true when absent", "Null", TAG, "true", {}, True),
    cond("Null true when present", "Null", TAG, "true", {TAG: "web"}, False),
    cond("Null false when present", "Null", TAG, "false", {TAG: "web"}, True),
    cond("Null false when absent", "Null", TAG, "false", {}, False),
    cond("Null json boolean", "Null", TAG, True, {}, True),
    cond("Null None in context is absent", "Null", TAG, "true", {TAG: None}, True),
    # IfExists
    cond("StringEqualsIfExists missing", "StringEqualsIfExists", TAG, "web", {}, True),
    cond(
        "StringEqualsIfExists present match", "StringEqualsIfExists", TAG, "web", {TAG: "web"}, True
    ),
    cond(
        "StringEqualsIfExists present mismatch",
        "StringEqualsIfExists",
        TAG,
        "web",
        {TAG: "db"},
        False,
    ),
    cond("NumericLessThanIfExists missing", "NumericLessThanIfExists", "ecr:count", "5", {}, True),
    cond("IpAddressIfExists missing", "IpAddressIfExists", IP, "10.0.0.0/8", {}, True),
    cond("IpAddressIfExists out", "IpAddressIfExists", IP, "10.0.0.0/8", {IP: "11.0.0.1"}, False),
    cond("BoolIfExists missing", "BoolIfExists", "aws:MultiFactorAuthPresent", "true", {}, True),
    cond("DateLessThanIfExists missing", "DateLessThanIfExists", TIME, "2000-01-01", {}, True),
    cond("ArnLikeIfExists missing", "ArnLikeIfExists", "aws:SourceArn", "arn:*:*:*:*:*", {}, True),
    cond("StringNotLikeIfExists present", "StringNotLikeIfExists", TAG, "w*", {TAG: "web"}, False),
    # Set qualifiers
    cond(
        "ForAllValues subset",
        "ForAllValues:StringEquals",
        KEYS,
        ["team", "env"],
        {KEYS: ["team"]},
        True,
    ),
    cond(
        "ForAllValues not subset",
        "ForAllValues:StringEquals",
        KEYS,
        ["team"],
        {KEYS: ["team", "cost"]},
        False,
    ),
    cond(
        "ForAllValues empty set is true",
        "ForAllValues:StringEquals",
        KEYS,
        ["team"],
        {KEYS: []},
        True,
    ),
    cond("ForAllValues missing key is true", "ForAllValues:StringEquals", KEYS, ["team"], {}, True),
    cond(
        "ForAllValues StringLike",
        "ForAllValues:StringLike",
        KEYS,
        "t*",
        {KEYS: ["team", "tier"]},
        True,
    ),
    cond(
        "ForAllValues single string",
        "ForAllValues:StringEquals",
        KEYS,
        "team",
        {KEYS: "team"},
        True,
    ),
    cond(
        "ForAnyValue overlap",
        "ForAnyValue:StringEquals",
        KEYS,
        ["team", "env"],
        {KEYS: ["cost", "env"]},
        True,
    ),
    cond(
        "ForAnyValue no overlap",
        "ForAnyValue:StringEquals",
        KEYS,
        ["team"],
        {KEYS: ["cost"]},
        False,
    ),
    cond(
        "ForAnyValue empty set is false",
        "ForAnyValue:StringEquals",
        KEYS,
        ["team"],
        {KEYS: []},
        False,
    ),
    cond("ForAnyValue missing is false", "ForAnyValue:StringEquals", KEYS, ["team"], {}, False),
    cond(
        "ForAnyValue IfExists missing", "ForAnyValue:StringEqualsIfExists", KEYS, ["team"], {}, True
    ),
    cond(
        "ForAnyValue StringNotEquals",
        "ForAnyValue:StringNotEquals",
        KEYS,
        ["team"],
        {KEYS: ["team", "x"]},
        True,
    ),
    cond(
        "ForAllValues StringNotEquals",
        "ForAllValues:StringNotEquals",
        KEYS,
        ["team"],
        {KEYS: ["team", "x"]},
        False,
    ),
    cond(
        "qualifier case-insensitive",
        "forallvalues:stringequals",
        KEYS,
        ["team"],
        {KEYS: ["team"]},
        True,
    ),
    cond(
        "multi-valued without qualifier any",
        "StringEquals",
        KEYS,
        "env",
        {KEYS: ["team", "env"]},
        True,
    ),
    cond(
        "multi-valued negated none", "StringNotEquals", KEYS, "env", {KEYS: ["team", "env"]}, False
    ),
]

_MULTI = {
    "StringEquals": {TAG: "web", "aws:username": "ci"},
    "IpAddress": {IP: "10.0.0.0/8"},
}

STRUCTURE_CASES = [
    Case(
        "multiple keys and operators all hold",
        ALLOW,
        identity=[allow(condition=_MULTI)],
        context={TAG: "web", IP: "10.0.0.1"},
    ),
    Case(
        "multiple keys: one fails",
        IMPLICIT,
        IDENTITY,
        identity=[allow(condition=_MULTI)],
        context={TAG: "db", IP: "10.0.0.1"},
    ),
    Case(
        "multiple operators: one fails",
        IMPLICIT,
        IDENTITY,
        identity=[allow(condition=_MULTI)],
        context={TAG: "web", IP: "11.0.0.1"},
    ),
    # actions
    Case("no policies at all", IMPLICIT, IDENTITY),
    Case("exact action", ALLOW, identity=[allow("ecr:BatchGetImage")]),
    Case("action case-insensitive in policy", ALLOW, identity=[allow("ECR:batchgetimage")]),
    Case(
        "action case-insensitive in request",
        ALLOW,
        identity=[allow("ecr:BatchGetImage")],
        action="ECR:BATCHGETIMAGE",
    ),
    Case("action wildcard", ALLOW, identity=[allow("ecr:Batch*")]),
    Case("action wildcard case-insensitive", ALLOW, identity=[allow("ECR:batch*")]),
    Case("action question mark", ALLOW, identity=[allow("ecr:BatchGetImag?")]),
    Case("action star", ALLOW, identity=[allow("*")]),
    Case("other action", IMPLICIT, IDENTITY, identity=[allow("ecr:PutImage")]),
    Case("other service", IMPLICIT, IDENTITY, identity=[allow("s3:*")]),
    Case("action list", ALLOW, identity=[allow(["ecr:PutImage", "ecr:BatchGetImage"])]),
    Case("NotAction excludes", IMPLICIT, IDENTITY, identity=[allow(not_action="ecr:Batch*")]),
    Case("NotAction includes others", ALLOW, identity=[allow(not_action="ecr:PutImage")]),
    Case(
        "deny NotAction", EXPLICIT, IDENTITY, identity=[allow(), deny(not_action=["ecr:PutImage"])]
    ),
    # resources
    Case("resource exact", ALLOW, identity=[allow(resource=REPO)]),
    Case(
        "resource other repo",
        IMPLICIT,
        IDENTITY,
        identity=[allow(resource=REPO.replace("/web", "/db"))],
    ),
    Case(
        "resource wildcard",
        ALLOW,
        identity=[allow(resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/*")],
    ),
    Case(
        "resource star spans slashes",
        ALLOW,
        identity=[allow(resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/*")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/app/web",
    ),
    Case("resource star spans colons", ALLOW, identity=[allow(resource="arn:aws:ecr:*/web")]),
    Case(
        "resource question mark",
        ALLOW,
        identity=[allow(resource=f"arn:aws:ecr:us-east-?:{ACCOUNT}:repository/web")],
    ),
    Case(
        "resource case-sensitive",
        IMPLICIT,
        IDENTITY,
        identity=[allow(resource=REPO.replace("web", "WEB"))],
    ),
    Case(
        "resource middle wildcard",
        ALLOW,
        identity=[allow(resource=f"arn:aws:ecr:*:{ACCOUNT}:repository/w*b")],
    ),
    Case("NotResource excludes", IMPLICIT, IDENTITY, identity=[allow(not_resource=REPO)]),
    Case(
        "NotResource includes others",
        ALLOW,
        identity=[allow(not_resource=REPO.replace("web", "db"))],
    ),
    Case(
        "deny NotResource",
        EXPLICIT,
        IDENTITY,
        identity=[allow(), deny(not_resource=REPO.replace("web", "db"))],
    ),
    Case(
        "resource * request",
        ALLOW,
        identity=[allow("ecr:GetAuthorizationToken")],
        action="ecr:GetAuthorizationToken",
        resource="*",
    ),
    Case(
        "repository pattern vs * request",
        IMPLICIT,
        IDENTITY,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/*")],
        action="ecr:GetAuthorizationToken",
        resource="*",
    ),
    # explicit deny
    Case("deny beats allow", EXPLICIT, IDENTITY, identity=[allow(), deny("ecr:BatchGetImage")]),
    Case("deny in another policy", EXPLICIT, IDENTITY, identity=[allow(), deny("ecr:*")]),
    Case("deny other action", ALLOW, identity=[allow(), deny("ecr:PutImage")]),
    Case(
        "deny with failing condition",
        ALLOW,
        identity=[allow(), deny(condition={"Bool": {"aws:SecureTransport": "false"}})],
        context={"aws:SecureTransport": True},
    ),
    Case(
        "deny with holding condition",
        EXPLICIT,
        IDENTITY,
        identity=[allow(), deny(condition={"Bool": {"aws:SecureTransport": "false"}})],
        context={"aws:SecureTransport": False},
    ),
    Case("deny alone", EXPLICIT, IDENTITY, identity=[deny()]),
    Case(
        "resource policy deny beats identity allow",
        EXPLICIT,
        RESOURCE,
        identity=[allow()],
        resource_policy=[deny(principal=EVERYONE)],
    ),
    Case(
        "resource policy deny for another user",
        ALLOW,
        identity=[allow()],
        resource_policy=[deny(principal={"AWS": ALICE.arn})],
    ),
    Case(
        "resource policy NotPrincipal deny",
        EXPLICIT,
        RESOURCE,
        identity=[allow()],
        resource_policy=[deny(not_principal={"AWS": ALICE.arn})],
    ),
    Case(
        "resource policy NotPrincipal deny spares listed",
        ALLOW,
        identity=[allow()],
        resource_policy=[deny(not_principal={"AWS": USER.arn})],
    ),
    Case(
        "identity deny beats resource allow",
        EXPLICIT,
        IDENTITY,
        identity=[deny()],
        resource_policy=[allow(principal=USER_PRINCIPAL)],
    ),
    # same account resource policies
    Case("resource policy names user", ALLOW, resource_policy=[allow(principal=USER_PRINCIPAL)]),
    # Naming one's own account delegates to IAM: the identity policy must still allow.
    Case(
        "resource policy names account id",
        IMPLICIT,
        IDENTITY,
        resource_policy=[allow(principal={"AWS": ACCOUNT})],
    ),
    Case(
        "resource policy names account root",
        IMPLICIT,
        IDENTITY,
        resource_policy=[allow(principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})],
    ),
    Case(
        "account-named resource grant with an identity allow",
        ALLOW,
        identity=[allow()],
        resource_policy=[allow(principal={"AWS": ACCOUNT})],
    ),
    Case(
        "account-named resource deny applies to the account's users",
        EXPLICIT,
        RESOURCE,
        identity=[allow()],
        resource_policy=[deny(principal={"AWS": ACCOUNT})],
    ),
    Case(
        "resource policy names other user",
        IMPLICIT,
        IDENTITY,
        resource_policy=[allow(principal={"AWS": ALICE.arn})],
    ),
    Case("resource policy Principal *", ALLOW, resource_policy=[allow(principal=EVERYONE)]),
    Case("resource policy AWS *", ALLOW, resource_policy=[allow(principal={"AWS": "*"})]),
    Case(
        "resource policy other action",
        IMPLICIT,
        IDENTITY,
        resource_policy=[allow("ecr:PutImage", principal=EVERYONE)],
    ),
    Case(
        "resource policy without Resource applies",
        ALLOW,
        resource_policy=[allow(resource=None, principal=USER_PRINCIPAL)],
    ),
    Case(
        "resource policy service principal",
        IMPLICIT,
        IDENTITY,
        resource_policy=[allow(principal={"Service": "codebuild.amazonaws.com"})],
    ),
    Case(
        "resource policy NotPrincipal allow",
        ALLOW,
        resource_policy=[allow(not_principal={"AWS": ALICE.arn})],
    ),
    Case(
        "resource policy condition",
        IMPLICIT,
        IDENTITY,
        resource_policy=[allow(principal=EVERYONE, condition={"IpAddress": {IP: "10.0.0.0/8"}})],
        context={IP: "11.0.0.1"},
    ),
    # roles and sessions
    Case(
        "resource policy names role: session allowed",
        ALLOW,
        principal=SESSION,
        resource_policy=[allow(principal={"AWS": ROLE_ARN})],
    ),
    Case(
        "resource policy names role via explicit role_arn",
        ALLOW,
        principal=SESSION,
        role_arn=ROLE_ARN,
        resource_policy=[allow(principal={"AWS": ROLE_ARN})],
    ),
    Case(
        "resource policy names session",
        ALLOW,
        principal=SESSION,
        resource_policy=[allow(principal={"AWS": SESSION.arn})],
    ),
    Case("session identity policy", ALLOW, principal=SESSION, identity=[allow()]),
    Case(
        "session policy limits role",
        IMPLICIT,
        SESSION_POLICY,
        principal=SESSION,
        identity=[allow()],
        sessions=[[allow("ecr:PutImage")]],
    ),
    Case(
        "session policy allows",
        ALLOW,
        principal=SESSION,
        identity=[allow()],
        sessions=[[allow("ecr:BatchGetImage")]],
    ),
    Case(
        "one of two session policies allows",
        ALLOW,
        principal=SESSION,
        identity=[allow()],
        sessions=[[allow("ecr:PutImage")], [allow("ecr:BatchGetImage")]],
    ),
    Case(
        "session policy alone grants nothing",
        IMPLICIT,
        IDENTITY,
        principal=SESSION,
        sessions=[[allow()]],
    ),
    Case(
        "session policy deny",
        EXPLICIT,
        SESSION_POLICY,
        principal=SESSION,
        identity=[allow()],
        sessions=[[allow(), deny("ecr:BatchGetImage")]],
    ),
    Case(
        "session policy limits role-named resource grant",
        IMPLICIT,
        SESSION_POLICY,
        principal=SESSION,
        sessions=[[allow("ecr:PutImage")]],
        resource_policy=[allow(principal={"AWS": ROLE_ARN})],
    ),
    Case(
        "session policy does not limit session-named grant",
        ALLOW,
        principal=SESSION,
        sessions=[[allow("ecr:PutImage")]],
        resource_policy=[allow(principal={"AWS": SESSION.arn})],
    ),
    Case(
        "PrincipalArn of a session is the role",
        ALLOW,
        principal=SESSION,
        identity=[allow(condition={"ArnEquals": {"aws:PrincipalArn": ROLE_ARN}})],
    ),
    # permissions boundary
    Case("boundary allows", ALLOW, identity=[allow()], boundary=[allow("ecr:Batch*")]),
    Case(
        "boundary does not allow",
        IMPLICIT,
        BOUNDARY,
        identity=[allow()],
        boundary=[allow("ecr:PutImage")],
    ),
    Case("boundary alone grants nothing", IMPLICIT, IDENTITY, boundary=[allow()]),
    Case(
        "boundary deny",
        EXPLICIT,
        BOUNDARY,
        identity=[allow()],
        boundary=[allow(), deny("ecr:BatchGetImage")],
    ),
    Case(
        "boundary does not limit user-named resource grant",
        ALLOW,
        boundary=[allow("ecr:PutImage")],
        resource_policy=[allow(principal=USER_PRINCIPAL)],
    ),
    Case(
        "boundary limits account-named resource grant",
        IMPLICIT,
        IDENTITY,
        boundary=[allow("ecr:PutImage")],
        resource_policy=[allow(principal={"AWS": ACCOUNT})],
    ),
    Case(
        "boundary limits role-named resource grant",
        IMPLICIT,
        BOUNDARY,
        principal=SESSION,
        boundary=[allow("ecr:PutImage")],
        resource_policy=[allow(principal={"AWS": ROLE_ARN})],
    ),
    Case(
        "boundary deny beats user-named resource grant",
        EXPLICIT,
        BOUNDARY,
        boundary=[deny()],
        resource_policy=[allow(principal=USER_PRINCIPAL)],
    ),
    Case(
        "boundary with condition",
        ALLOW,
        identity=[allow()],
        boundary=[allow(condition={"StringEquals": {"aws:username": "ci"}})],
    ),
    # cross account
    Case(
        "cross-account needs resource policy",
        IMPLICIT,
        RESOURCE,
        principal=OUTSIDER,
        identity=[allow()],
    ),
    Case(
        "cross-account needs identity policy",
        IMPLICIT,
        IDENTITY,
        principal=OUTSIDER,
        resource_policy=[allow(principal={"AWS": OUTSIDER.arn})],
    ),
    Case(
        "cross-account both allow",
        ALLOW,
        principal=OUTSIDER,
        identity=[allow()],
        resource_policy=[allow(principal={"AWS": OUTSIDER.arn})],
    ),
    Case(
        "cross-account account principal",
        ALLOW,
        principal=OUTSIDER,
        identity=[allow()],
        resource_policy=[allow(principal={"AWS": OTHER})],
    ),
    Case(
        "cross-account wrong account",
        IMPLICIT,
        RESOURCE,
        principal=OUTSIDER,
        identity=[allow()],
        resource_policy=[allow(principal={"AWS": ACCOUNT})],
    ),
    Case(
        "cross-account Principal *",
        ALLOW,
        principal=OUTSIDER,
        identity=[allow()],
        resource_policy=[allow(principal=EVERYONE)],
    ),
    Case(
        "cross-account resource deny",
        EXPLICIT,
        RESOURCE,
        principal=OUTSIDER,
        identity=[allow()],
        resource_policy=[allow(principal=EVERYONE), deny(principal=EVERYONE)],
    ),
    Case(
        "cross-account boundary limits",
        IMPLICIT,
        BOUNDARY,
        principal=OUTSIDER,
        identity=[allow()],
        boundary=[allow("ecr:PutImage")],
        resource_policy=[allow(principal=EVERYONE)],
    ),
    Case(
        "cross-account identity deny",
        EXPLICIT,
        IDENTITY,
        principal=OUTSIDER,
        identity=[allow(), deny()],
        resource_policy=[allow(principal=EVERYONE)],
    ),
    # root
    Case("root in own account", ALLOW, principal=ROOT),
    Case("root ignores identity denies", ALLOW, principal=ROOT, identity=[deny()]),
    Case(
        "root denied by resource policy",
        EXPLICIT,
        RESOURCE,
        principal=ROOT,
        resource_policy=[deny(principal=EVERYONE)],
    ),
    Case(
        "root denied by account-named resource deny",
        EXPLICIT,
        RESOURCE,
        principal=ROOT,
        resource_policy=[deny(principal={"AWS": ACCOUNT})],
    ),
    Case(
        "root unaffected by deny for another user",
        ALLOW,
        principal=ROOT,
        resource_policy=[deny(principal={"AWS": ALICE.arn})],
    ),
    Case("other account root needs resource policy", IMPLICIT, RESOURCE, principal=OTHER_ROOT),
    Case(
        "other account root with resource policy",
        ALLOW,
        principal=OTHER_ROOT,
        resource_policy=[allow(principal={"AWS": OTHER})],
    ),
    # anonymous
    Case("anonymous without policy", IMPLICIT, RESOURCE, principal=ANONYMOUS),
    Case(
        "anonymous ignores identity policies",
        IMPLICIT,
        RESOURCE,
        principal=ANONYMOUS,
        identity=[allow()],
    ),
    Case(
        "anonymous with Principal *",
        ALLOW,
        principal=ANONYMOUS,
        resource_policy=[allow(principal=EVERYONE)],
    ),
    Case(
        "anonymous with AWS *",
        ALLOW,
        principal=ANONYMOUS,
        resource_policy=[allow(principal={"AWS": "*"})],
    ),
    Case(
        "anonymous not the account",
        IMPLICIT,
        RESOURCE,
        principal=ANONYMOUS,
        resource_policy=[allow(principal={"AWS": ACCOUNT})],
    ),
    Case(
        "anonymous not via NotPrincipal allow",
        IMPLICIT,
        RESOURCE,
        principal=ANONYMOUS,
        resource_policy=[allow(not_principal={"AWS": ALICE.arn})],
    ),
    Case(
        "anonymous denied by NotPrincipal deny",
        EXPLICIT,
        RESOURCE,
        principal=ANONYMOUS,
        resource_policy=[allow(principal=EVERYONE), deny(not_principal={"AWS": USER.arn})],
    ),
    Case(
        "anonymous pull only",
        IMPLICIT,
        RESOURCE,
        principal=ANONYMOUS,
        action="ecr:PutImage",
        resource_policy=[allow("ecr:BatchGetImage", principal=EVERYONE)],
    ),
    # variables
    Case(
        "username in resource",
        ALLOW,
        identity=[allow(resource=f"arn:aws:ecr:*:{ACCOUNT}:repository/${{aws:username}}/*")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/ci/app",
    ),
    Case(
        "username in resource, other user",
        IMPLICIT,
        IDENTITY,
        principal=ALICE,
        identity=[allow(resource=f"arn:aws:ecr:*:{ACCOUNT}:repository/${{aws:username}}/*")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/ci/app",
    ),
    Case(
        "variable name case-insensitive",
        ALLOW,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/${AWS:UserName}/*")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/ci/app",
    ),
    Case(
        "userid variable",
        ALLOW,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/${aws:userid}")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/AIDACI",
    ),
    Case(
        "principal tag variable",
        ALLOW,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/${aws:PrincipalTag/team}/*")],
        context={TAG: "web"},
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/web/x",
    ),
    Case(
        "missing variable matches nothing",
        IMPLICIT,
        IDENTITY,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/${aws:PrincipalTag/team}/*")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/web/x",
    ),
    Case(
        "missing variable: other resources still match",
        ALLOW,
        identity=[allow(resource=["arn:aws:ecr:*:*:repository/${aws:PrincipalTag/t}", REPO])],
    ),
    Case(
        "variable default",
        ALLOW,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/${aws:PrincipalTag/team, 'web'}")],
    ),
    Case(
        "variable default not used when set",
        IMPLICIT,
        IDENTITY,
        context={TAG: "db"},
        identity=[allow(resource="arn:aws:ecr:*:*:repository/${aws:PrincipalTag/team, 'web'}")],
    ),
    Case(
        "variable value is literal, not a wildcard",
        IMPLICIT,
        IDENTITY,
        context={TAG: "*"},
        identity=[allow(resource="arn:aws:ecr:*:*:repository/${aws:PrincipalTag/team}")],
    ),
    Case(
        "escape ${*} is a literal star",
        ALLOW,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/a${*}b")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/a*b",
    ),
    Case(
        "escape ${*} does not match other text",
        IMPLICIT,
        IDENTITY,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/a${*}b")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/axxb",
    ),
    Case(
        "escape ${?} is a literal question mark",
        IMPLICIT,
        IDENTITY,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/we${?}")],
    ),
    Case(
        "escape ${$}",
        ALLOW,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/${$}web")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/$web",
    ),
    Case(
        "variables are text in 2008-10-17",
        IMPLICIT,
        IDENTITY,
        version="2008-10-17",
        identity=[allow(resource="arn:aws:ecr:*:*:repository/${aws:username}")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/ci",
    ),
    Case(
        "variables are text without Version",
        IMPLICIT,
        IDENTITY,
        version=None,
        identity=[allow(resource="arn:aws:ecr:*:*:repository/${aws:username}")],
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/ci",
    ),
    Case(
        "variable in StringEquals",
        ALLOW,
        context={"ecr:owner": "ci"},
        identity=[allow(condition={"StringEquals": {"ecr:owner": "${aws:username}"}})],
    ),
    Case(
        "variable in StringEquals mismatch",
        IMPLICIT,
        IDENTITY,
        context={"ecr:owner": "bob"},
        identity=[allow(condition={"StringEquals": {"ecr:owner": "${aws:username}"}})],
    ),
    Case(
        "variable in StringLike",
        ALLOW,
        context={"ecr:owner": "ci-team"},
        identity=[allow(condition={"StringLike": {"ecr:owner": "${aws:username}-*"}})],
    ),
    Case(
        "variable in ResourceTag condition",
        ALLOW,
        context={"ecr:ResourceTag/owner": "ci"},
        identity=[allow(condition={"StringEquals": {"ecr:ResourceTag/owner": "${aws:username}"}})],
    ),
    Case(
        "missing variable in condition value",
        IMPLICIT,
        IDENTITY,
        context={"ecr:owner": "x"},
        identity=[allow(condition={"StringEquals": {"ecr:owner": "${aws:PrincipalTag/nope}"}})],
    ),
    Case(
        "StringEqualsIgnoreCase with variable",
        ALLOW,
        context={"ecr:owner": "CI"},
        identity=[allow(condition={"StringEqualsIgnoreCase": {"ecr:owner": "${aws:username}"}})],
    ),
    Case(
        "request tag condition",
        ALLOW,
        context={"aws:RequestTag/env": "prod"},
        identity=[allow(condition={"StringEquals": {"aws:RequestTag/env": "prod"}})],
    ),
]

CASES = CONDITION_CASES + STRUCTURE_CASES


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 150
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(case: Case) -> None:
    decision = case.decide()
    assert decision.outcome is case.expect, decision.message
    assert decision.allowed is (case.expect is ALLOW)
    if case.expect is not ALLOW:
        assert decision.policy_type is case.reason
        assert decision.message.startswith(f"User: {_who(case)} is not authorized to perform: ")


def _who(case: Case) -> str:
    return "anonymous" if case.principal.is_anonymous else case.principal.arn


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        (
            Case("m1", IMPLICIT, identity=[allow("ecr:PutImage")]),
            "because no identity-based policy allows the ecr:BatchGetImage action",
        ),
        (
            Case("m2", EXPLICIT, identity=[deny()]),
            "with an explicit deny in an identity-based policy",
        ),
        (
            Case("m3", EXPLICIT, resource_policy=[deny(principal=EVERYONE)], identity=[allow()]),
            "with an explicit deny in a resource-based policy",
        ),
        (
            Case("m4", IMPLICIT, principal=OUTSIDER, identity=[allow()]),
            "because no resource-based policy allows the ecr:BatchGetImage action",
        ),
        (
            Case("m5", EXPLICIT, identity=[allow()], boundary=[deny()]),
            "with an explicit deny in a permissions boundary",
        ),
        (
            Case("m6", IMPLICIT, identity=[allow()], boundary=[allow("s3:*")]),
            "because no permissions boundary allows the ecr:BatchGetImage action",
        ),
        (
            Case("m7", IMPLICIT, identity=[allow()], sessions=[[allow("s3:*")]]),
            "because no session policy allows the ecr:BatchGetImage action",
        ),
        (
            Case("m8", EXPLICIT, identity=[allow()], sessions=[[deny()]]),
            "with an explicit deny in a session policy",
        ),
    ],
)
def test_messages_are_aws_wording(case: Case, reason: str) -> None:
    decision = case.decide()
    assert decision.message == (
        f"User: {case.principal.arn} is not authorized to perform: ecr:BatchGetImage "
        f"on resource: {REPO} {reason}"
    )


def test_explicit_deny_names_the_statement() -> None:
    case = Case("sid", EXPLICIT, identity=[allow(), deny(sid="NoPull")])
    decision = case.decide()
    assert decision.statement is not None
    assert decision.statement.policy_name == "policy1"
    assert decision.statement.statement == "NoPull"
    assert decision.statement.index == 0


def test_allow_names_the_statement_and_implicit_deny_none() -> None:
    allowed = Case("a", ALLOW, identity=[allow()]).decide()
    assert allowed.statement is not None
    assert allowed.statement.statement == "Statement[0]"
    assert Case("d", IMPLICIT, identity=[]).decide().statement is None


def test_resource_policy_allow_is_reported_for_root_and_user() -> None:
    case = Case("r", ALLOW, resource_policy=[allow(principal=USER_PRINCIPAL, sid="Ci")])
    decision = case.decide()
    assert decision.policy_type is RESOURCE
    assert decision.statement is not None
    assert decision.statement.statement == "Ci"


TRUSTS_ROOT = allow(action="sts:AssumeRole", principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})


@pytest.mark.parametrize("action", ["sts:AssumeRole", "STS:assumerole"])
@pytest.mark.parametrize("root", [ROOT, OTHER_ROOT], ids=["own", "other"])
def test_no_policy_lets_a_root_assume_a_role(action: str, root: Any) -> None:
    trusting = {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", OTHER_ROOT.arn, "*"]}
    case = Case(
        "root assumes",
        IMPLICIT,
        principal=root,
        action=action,
        resource=ROLE_ARN,
        resource_policy=[allow(action="sts:AssumeRole", principal=trusting)],
    )
    decision = case.decide()
    assert (decision.allowed, decision.outcome) == (False, IMPLICIT)
    assert (
        decision.message
        == ROOT_MAY_NOT_ASSUME_ROLES
        == "Roles may not be assumed by root accounts."
    )
    assert decision.policy_type is None and decision.statement is None


def test_a_user_and_a_role_session_may_still_assume_a_role() -> None:
    for principal in (USER, SESSION):
        case = Case(
            "assumes",
            ALLOW,
            principal=principal,
            action="sts:AssumeRole",
            resource=ROLE_ARN,
            identity=[allow(action="sts:AssumeRole")],
            resource_policy=[TRUSTS_ROOT],
        )
        assert case.decide().allowed, principal.arn


def test_the_root_keeps_its_other_sts_actions() -> None:
    case = Case("session token", ALLOW, principal=ROOT, action="sts:GetSessionToken", resource="*")
    assert case.decide().allowed
