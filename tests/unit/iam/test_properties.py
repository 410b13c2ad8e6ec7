"""Properties of the engine that must hold for any policies and any request."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from berth.errors import MalformedPolicyDocumentError
from berth.iam import (
    AuthorizationRequest,
    NamedPolicy,
    Outcome,
    PolicyKind,
    evaluate,
    parse_policy,
)

from .cases import ACCOUNT, OUTSIDER, SESSION, USER, document

ACTIONS = ["ecr:BatchGetImage", "ecr:PutImage", "ecr:ListImages", "ecr:*", "ecr:Batch*", "*"]
REPOS = ["web", "db", "team/web"]
RESOURCES = ["*", *(f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{r}" for r in REPOS)]
RESOURCES += [f"arn:aws:ecr:*:{ACCOUNT}:repository/*", "arn:aws:ecr:*:*:repository/${aws:username}"]
CONDITIONS: list[dict[str, Any] | None] = [
    None,
    {"StringEquals": {"aws:PrincipalTag/team": "web"}},
    {"StringNotEquals": {"aws:PrincipalTag/team": "web"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": ["a*"]}},
    {"Null": {"aws:PrincipalTag/team": "true"}},
    {"BoolIfExists": {"aws:SecureTransport": "true"}},
]


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
        draw(st.sampled_from(["Action", "NotAction"])): draw(
            st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3)
        ),
        draw(st.sampled_from(["Resource", "NotResource"])): draw(
            st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2)
        ),
    }
    condition = draw(st.sampled_from(CONDITIONS))
    if condition is not None:
        body["Condition"] = condition
    return body


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if draw(st.booleans()):
        context["aws:PrincipalTag/team"] = draw(st.sampled_from(["web", "db"]))
    if draw(st.booleans()):
        context["aws:SourceIp"] = draw(st.sampled_from(["10.1.1.1", "192.168.0.1"]))
    if draw(st.booleans()):
        context["aws:TagKeys"] = draw(st.lists(st.sampled_from(["a", "ab", "b"]), max_size=2))
    if draw(st.booleans()):
        context["aws:SecureTransport"] = draw(st.booleans())
    return {
        "principal": draw(st.sampled_from([USER, SESSION, OUTSIDER])),
        "action": draw(st.sampled_from(["ecr:BatchGetImage", "ecr:PutImage", "ecr:ListImages"])),
        "resource": draw(st.sampled_from(RESOURCES[:4])),
        "context": context,
    }


def _identity(groups: list[list[dict[str, Any]]]) -> list[NamedPolicy]:
    return [
        NamedPolicy(f"p{i}", parse_policy(document(*group), PolicyKind.IDENTITY))
        for i, group in enumerate(groups)
        if group
    ]


def _resource_policy(group: list[dict[str, Any]]) -> Any:
    if not group:
        return None
    with_principal = [{**s, "Principal": "*"} for s in group]
    return parse_policy(document(*with_principal), PolicyKind.RESOURCE)


def _decide(
    request: dict[str, Any], identity: list[list[dict[str, Any]]], resource: list[dict[str, Any]]
) -> Outcome:
    return evaluate(
        AuthorizationRequest(
            resource_account=ACCOUNT,
            identity_policies=_identity(identity),
            resource_policy=_resource_policy(resource),
            **request,
        )
    ).outcome


policy_groups = st.lists(st.lists(statements(), max_size=3), max_size=3)


@settings(max_examples=150, deadline=None)
@given(
    request=requests(),
    identity=policy_groups,
    resource=st.lists(statements(), max_size=3),
    extra=st.lists(statements("Allow"), min_size=1, max_size=3),
    into_resource=st.booleans(),
)
def test_explicit_deny_is_never_overridden_by_allows(
    request: dict[str, Any],
    identity: list[list[dict[str, Any]]],
    resource: list[dict[str, Any]],
    extra: list[dict[str, Any]],
    into_resource: bool,
) -> None:
    if _decide(request, identity, resource) is not Outcome.EXPLICIT_DENY:
        return
    if into_resource:
        assert _decide(request, identity, resource + extra) is Outcome.EXPLICIT_DENY
    else:
        assert _decide(request, [*identity, extra], resource) is Outcome.EXPLICIT_DENY


@settings(max_examples=150, deadline=None)
@given(
    request=requests(),
    identity=policy_groups,
    resource=st.lists(statements(), max_size=3),
    extra=statements("Allow"),
    where=st.integers(min_value=0, max_value=3),
)
def test_adding_an_identity_allow_never_removes_access(
    request: dict[str, Any],
    identity: list[list[dict[str, Any]]],
    resource: list[dict[str, Any]],
    extra: dict[str, Any],
    where: int,
) -> None:
    if _decide(request, identity, resource) is not Outcome.ALLOW:
        return
    grown = [list(group) for group in identity] + [[]]
    grown[min(where, len(grown) - 1)].append(extra)
    assert _decide(request, grown, resource) is Outcome.ALLOW


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ["Version", "Statement", "Effect", "Action", "NotAction", "Resource", "Principal",
          "NotPrincipal", "Condition", "Sid", "Id", "StringEquals", "AWS", "aws:username"]  # fmt: skip
field_values = st.sampled_from(["2012-10-17", "Allow", "Deny", "*", "ecr:*", "${aws:x}"])
policy_like = st.recursive(
    json_values | field_values,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(value=policy_like, kind=st.sampled_from(list(PolicyKind)))
def test_parse_raises_only_malformed(value: Any, kind: PolicyKind) -> None:
    with contextlib.suppress(MalformedPolicyDocumentError):
        parse_policy(json.dumps(value), kind)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60), kind=st.sampled_from(list(PolicyKind)))
def test_parse_raises_only_malformed_on_any_text(text: str, kind: PolicyKind) -> None:
    with contextlib.suppress(MalformedPolicyDocumentError):
        parse_policy(text, kind)
