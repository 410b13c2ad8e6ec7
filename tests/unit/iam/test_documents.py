"""Malformed documents are refused with AWS's messages; good ones parse as written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from berth.errors import MalformedPolicyDocumentError
from berth.iam import Effect, PolicyKind, parse_policy

from .cases import allow, document

V = "2012-10-17"
GOOD = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}
PRINCIPAL = {"Effect": "Allow", "Action": "ecr:*", "Principal": "*"}


def doc(**statement: Any) -> str:
    return json.dumps({"Version": V, "Statement": [{**GOOD, **statement}]})


def without(base: dict[str, Any], *names: str, **more: Any) -> str:
    body = {k: v for k, v in base.items() if k not in names}
    return json.dumps({"Version": V, "Statement": {**body, **more}})


MALFORMED = [
    ("not json", "{", PolicyKind.IDENTITY, "Syntax errors in policy."),
    ("json array", "[]", PolicyKind.IDENTITY, "Syntax errors in policy."),
    ("NaN", '{"Statement": NaN}', PolicyKind.IDENTITY, "Syntax errors in policy."),
    (
        "duplicate key",
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}',
        PolicyKind.IDENTITY,
        "Syntax errors in policy.",
    ),
    ("no statement", json.dumps({"Version": V}), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (
        "empty statement",
        json.dumps({"Version": V, "Statement": []}),
        PolicyKind.IDENTITY,
        "Syntax errors in policy.",
    ),
    (
        "statement not object",
        json.dumps({"Statement": ["x"]}),
        PolicyKind.IDENTITY,
        "Syntax errors in policy.",
    ),
    (
        "bad version",
        json.dumps({"Version": "2020-01-01", "Statement": GOOD}),
        PolicyKind.IDENTITY,
        "The policy failed legacy parsing",
    ),
    (
        "numeric version",
        json.dumps({"Version": 2012, "Statement": GOOD}),
        PolicyKind.IDENTITY,
        "The policy failed legacy parsing",
    ),
    (
        "unknown top field",
        json.dumps({"Version": V, "Statement": GOOD, "Foo": 1}),
        PolicyKind.IDENTITY,
        "Unknown field Foo",
    ),
    ("unknown statement field", doc(Actions="ecr:*"), PolicyKind.IDENTITY, "Unknown field Actions"),
    ("lower-case element", doc(effect="Allow"), PolicyKind.IDENTITY, "Unknown field effect"),
    (
        "principal in identity",
        doc(Principal="*"),
        PolicyKind.IDENTITY,
        "Policy document should not specify a principal.",
    ),
    (
        "not principal in identity",
        doc(NotPrincipal={"AWS": "*"}),
        PolicyKind.IDENTITY,
        "Policy document should not specify a principal.",
    ),
    ("no principal in resource", doc(), PolicyKind.RESOURCE, "Missing required field Principal"),
    (
        "no principal in trust",
        without(GOOD, "Resource", Action="sts:AssumeRole"),
        PolicyKind.TRUST,
        "Missing required field Principal",
    ),
    ("resource in trust", doc(Principal="*"), PolicyKind.TRUST, "Has prohibited field Resource"),
    (
        "no action",
        without(GOOD, "Action"),
        PolicyKind.IDENTITY,
        "Policy statement must contain actions.",
    ),
    (
        "empty action list",
        doc(Action=[]),
        PolicyKind.IDENTITY,
        "Policy statement must contain actions.",
    ),
    (
        "no resource",
        without(GOOD, "Resource"),
        PolicyKind.IDENTITY,
        "Policy statement must contain resources.",
    ),
    ("no effect", without(GOOD, "Effect"), PolicyKind.IDENTITY, "Missing required field Effect"),
    ("bad effect", doc(Effect="allow"), PolicyKind.IDENTITY, "Invalid effect: allow"),
    (
        "action and not action",
        doc(NotAction="ecr:*"),
        PolicyKind.IDENTITY,
        "Syntax errors in policy.",
    ),
    (
        "resource and not resource",
        doc(NotResource="*"),
        PolicyKind.IDENTITY,
        "Syntax errors in policy.",
    ),
    (
        "principal and not principal",
        without(PRINCIPAL, NotPrincipal="*"),
        PolicyKind.RESOURCE,
        "Syntax errors in policy.",
    ),
    (
        "action without vendor",
        doc(Action="BatchGetImage"),
        PolicyKind.IDENTITY,
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    (
        "action two colons",
        doc(Action="ecr:Batch:GetImage"),
        PolicyKind.IDENTITY,
        "Actions/Condition can contain only one colon.",
    ),
    (
        "bad vendor",
        doc(Action="e cr:BatchGetImage"),
        PolicyKind.IDENTITY,
        "Vendor e cr is not valid",
    ),
    (
        "wildcard vendor",
        doc(Action="ec*:BatchGetImage"),
        PolicyKind.IDENTITY,
        "Vendor ec* is not valid",
    ),
    ("action number", doc(Action=7), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (
        "action list with number",
        doc(Action=["ecr:*", 7]),
        PolicyKind.IDENTITY,
        "Syntax errors in policy.",
    ),
    (
        "resource not arn",
        doc(Resource="web"),
        PolicyKind.IDENTITY,
        'Resource web must be in ARN format or "*".',
    ),
    (
        "invalid principal",
        without(PRINCIPAL, Principal={"AWS": "bob"}),
        PolicyKind.RESOURCE,
        "Invalid principal in policy",
    ),
    (
        "principal with wildcard arn",
        without(PRINCIPAL, Principal={"AWS": "arn:aws:iam::*:root"}),
        PolicyKind.RESOURCE,
        "Invalid principal in policy",
    ),
    (
        "principal unknown type",
        without(PRINCIPAL, Principal={"Aws": "*"}),
        PolicyKind.RESOURCE,
        "Invalid principal in policy",
    ),
    (
        "principal string",
        without(PRINCIPAL, Principal="bob"),
        PolicyKind.RESOURCE,
        "Invalid principal in policy",
    ),
    (
        "principal empty list",
        without(PRINCIPAL, Principal={"AWS": []}),
        PolicyKind.RESOURCE,
        "Invalid principal in policy",
    ),
    (
        "bad service principal",
        without(PRINCIPAL, Principal={"Service": "codebuild"}),
        PolicyKind.RESOURCE,
        "Invalid principal in policy",
    ),
    (
        "unknown condition operator",
        doc(Condition={"StringEqualz": {"aws:username": "x"}}),
        PolicyKind.IDENTITY,
        "Invalid Condition type : StringEqualz.",
    ),
    (
        "unknown qualifier",
        doc(Condition={"ForSomeValues:StringEquals": {"aws:username": "x"}}),
        PolicyKind.IDENTITY,
        "Invalid Condition type : ForSomeValues:StringEquals.",
    ),
    (
        "NullIfExists",
        doc(Condition={"NullIfExists": {"aws:username": "true"}}),
        PolicyKind.IDENTITY,
        "Invalid Condition type : NullIfExists.",
    ),
    (
        "operator two colons",
        doc(Condition={"ForAnyValue:StringEquals:x": {"aws:username": "x"}}),
        PolicyKind.IDENTITY,
        "Actions/Condition can contain only one colon.",
    ),
    (
        "condition key without vendor",
        doc(Condition={"StringEquals": {"username": "x"}}),
        PolicyKind.IDENTITY,
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    (
        "condition key two colons",
        doc(Condition={"StringEquals": {"aws:user:name": "x"}}),
        PolicyKind.IDENTITY,
        "Actions/Condition can contain only one colon.",
    ),
    ("condition not object", doc(Condition=["x"]), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (
        "condition operator not object",
        doc(Condition={"StringEquals": "x"}),
        PolicyKind.IDENTITY,
        "Syntax errors in policy.",
    ),
    (
        "condition value object",
        doc(Condition={"StringEquals": {"aws:username": {"a": 1}}}),
        PolicyKind.IDENTITY,
        "Syntax errors in policy.",
    ),
    (
        "condition value null",
        doc(Condition={"StringEquals": {"aws:username": None}}),
        PolicyKind.IDENTITY,
        "Syntax errors in policy.",
    ),
    (
        "identity sid not alphanumeric",
        doc(Sid="pull images"),
        PolicyKind.IDENTITY,
        "Statement IDs (SID) must be alpha-numeric.",
    ),
    ("sid not string", doc(Sid=3), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (
        "duplicate sid",
        json.dumps({"Version": V, "Statement": [{**GOOD, "Sid": "A"}] * 2}),
        PolicyKind.IDENTITY,
        "Statement IDs (SID) in a single policy must be unique.",
    ),
    (
        "id not string",
        json.dumps({"Version": V, "Id": 3, "Statement": GOOD}),
        PolicyKind.IDENTITY,
        "Syntax errors in policy.",
    ),
]


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed(text: str, kind: PolicyKind, message: str) -> None:
    with pytest.raises(MalformedPolicyDocumentError) as caught:
        parse_policy(text, kind)
    assert caught.value.message.startswith(message)
    assert caught.value.status == 400
    assert caught.value.aws_type == "MalformedPolicyDocument"


def test_message_says_where_and_why() -> None:
    text = json.dumps({"Statement": [GOOD, {**GOOD, "Sid": "Push", "Action": "PutImage"}]})
    with pytest.raises(MalformedPolicyDocumentError) as caught:
        parse_policy(text, PolicyKind.IDENTITY)
    assert "Statement[1] Sid 'Push'" in caught.value.message
    assert "'PutImage'" in caught.value.message


def test_identity_policy_size_limit_counts_non_whitespace() -> None:
    actions = [f"ecr:Action{i:05d}" for i in range(400)]
    text = document(allow(actions))
    assert len(text) - text.count(" ") > 6144
    with pytest.raises(MalformedPolicyDocumentError, match="PolicySize: 6144"):
        parse_policy(text, PolicyKind.IDENTITY)
    assert parse_policy(text, PolicyKind.IDENTITY, max_size=20000).statements


def test_whitespace_does_not_count() -> None:
    compact = document(allow([f"ecr:A{i:04d}" for i in range(300)]))
    padded = json.dumps(json.loads(compact), indent=40)
    assert len(padded) > 6144 >= len(compact.replace(" ", ""))
    assert parse_policy(padded, PolicyKind.IDENTITY).statements


def test_repository_policy_limit_is_10240() -> None:
    principals = {"AWS": [f"arn:aws:iam::123456789012:user/u{i:04d}" for i in range(300)]}
    text = document(allow(resource=None, principal=principals))
    with pytest.raises(MalformedPolicyDocumentError, match="PolicySize: 10240"):
        parse_policy(text, PolicyKind.RESOURCE)


def test_statement_as_object_and_strings_as_lists() -> None:
    text = json.dumps({"Version": V, "Id": "p1", "Statement": {**GOOD, "Sid": "All"}})
    policy = parse_policy(text, PolicyKind.IDENTITY)
    assert policy.version == V
    assert policy.id == "p1"
    assert policy.text == text
    (statement,) = policy.statements
    assert statement.sid == "All"
    assert statement.effect is Effect.ALLOW
    assert statement.actions == ("ecr:*",)
    assert statement.resources == ("*",)
    assert statement.not_actions is None
    assert statement.principals is None


def test_missing_version_is_2008() -> None:
    text = '{"Statement":[{"Action":["ecr:BatchGetImage"],"Effect":"Allow","Resource":["*"]}]}'
    assert parse_policy(text, PolicyKind.IDENTITY).version == "2008-10-17"


def test_repository_policy_as_ecr_writes_it() -> None:
    text = json.dumps(
        {
            "Version": "2008-10-17",
            "Statement": [
                {
                    "Sid": "allow pull from ci",
                    "Effect": "Allow",
                    "Principal": {"AWS": ["arn:aws:iam::123456789012:role/ci", "210987654321"]},
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "web"}},
                }
            ],
        }
    )
    (statement,) = parse_policy(text, PolicyKind.RESOURCE).statements
    assert statement.principals == {"AWS": ("arn:aws:iam::123456789012:role/ci", "210987654321")}
    assert statement.resources is None
    assert statement.conditions[0].key == "aws:principaltag/team"


def test_trust_policy() -> None:
    text = json.dumps(
        {
            "Version": V,
            "Statement": {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            },
        }
    )
    assert parse_policy(text, PolicyKind.TRUST).statements[0].actions == ("sts:AssumeRole",)


def test_every_operator_family_parses() -> None:
    operators = [
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
        "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
        "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
        "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
        "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress",
        "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
    ]  # fmt: skip
    condition: dict[str, Any] = {}
    for name in operators:
        condition[name] = {"aws:SomeKey": "1"}
        condition[f"{name}IfExists"] = {"aws:SomeKey": "1"}
        condition[f"ForAllValues:{name}"] = {"aws:SomeKey": "1"}
        condition[f"ForAnyValue:{name}"] = {"aws:SomeKey": "1"}
    condition["Null"] = {"aws:SomeKey": "true"}
    policy = parse_policy(doc(Condition=condition), PolicyKind.IDENTITY)
    assert len(policy.statements[0].conditions) == len(condition)
