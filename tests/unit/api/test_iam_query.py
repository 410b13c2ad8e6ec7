"""The AWS Query reader and the XML renderer, checked against botocore's own serializer/parser."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import botocore.session
import pytest
from botocore.parsers import QueryParser
from botocore.serialize import QuerySerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.api.iam.dispatch import IAM_OPERATIONS, STS_OPERATIONS
from berth.api.iam.query import QueryReader, form_params, java_pattern
from berth.api.iam.xml import render_error, render_result
from berth.errors import NoSuchEntityError, UnrecognizedClientError, ValidationError

SESSION = botocore.session.get_session()
IAM = SESSION.get_service_model("iam")
STS = SESSION.get_service_model("sts")
NS = "https://iam.amazonaws.com/doc/2010-05-08/"


def serialized(operation: str, params: dict[str, Any], model: Any = IAM) -> dict[str, str]:
    """What botocore sends for ``params``, as the form the server receives."""
    op = model.operation_model(operation)
    request = QuerySerializer().serialize_to_request(params, op)
    body = request["body"]
    if isinstance(body, str):
        return dict(parse_qsl(body, keep_blank_values=True))
    return {k: str(v) for k, v in body.items()}


def read(operation: str, params: dict[str, Any], model: Any = IAM) -> dict[str, Any]:
    op = model.operation_model(operation)
    return QueryReader().read(op.input_shape, serialized(operation, params, model))


def test_operation_tables_name_real_operations() -> None:
    assert set(IAM_OPERATIONS) <= set(IAM.operation_names)
    assert set(STS_OPERATIONS) == {"AssumeRole", "GetCallerIdentity", "GetSessionToken"}
    assert len(IAM_OPERATIONS) >= 60


def test_reads_nested_lists_and_structures() -> None:
    params = {
        "UserName": "bob",
        "Path": "/ops/",
        "Tags": [{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}],
    }
    assert read("CreateUser", params) == params


def test_reads_context_entries_and_booleans_and_integers() -> None:
    params = {
        "PolicyInputList": ["{}"],
        "ActionNames": ["ecr:PutImage"],
        "ContextEntries": [
            {
                "ContextKeyName": "aws:TagKeys",
                "ContextKeyValues": ["a", "b"],
                "ContextKeyType": "stringList",
            }
        ],
        "MaxItems": 5,
    }
    assert read("SimulateCustomPolicy", params) == params
    assert (
        read(
            "CreatePolicyVersion",
            {
                "PolicyArn": "arn:aws:iam::123456789012:policy/p",
                "PolicyDocument": "{}",
                "SetAsDefault": True,
            },
        )["SetAsDefault"]
        is True
    )


def test_reads_sts_policy_arns() -> None:
    arn = "arn:aws:iam::123456789012:policy/read"
    params = {
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "RoleSessionName": "ci",
        "PolicyArns": [{"arn": arn}],
    }
    assert read("AssumeRole", params, STS)["PolicyArns"] == [{"arn": arn}]


def test_empty_list_is_an_empty_list() -> None:
    op = IAM.operation_model("UntagUser")
    values = QueryReader().read(op.input_shape, {"UserName": "bob", "TagKeys": ""})
    assert values == {"UserName": "bob", "TagKeys": []}


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (
            {},
            "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null",
        ),
        ({"UserName": "a b"}, r"Member must satisfy regular expression pattern: [\w+=,.@-]+"),
        ({"UserName": "x" * 65}, "Member must have length less than or equal to 64"),
        ({"UserName": "bob", "Path": "ops"}, "at 'path' failed to satisfy constraint"),
    ],
)
def test_validation_errors_read_as_aws_writes_them(form: dict[str, str], expected: str) -> None:
    op = IAM.operation_model("CreateUser")
    with pytest.raises(ValidationError) as raised:
        QueryReader().read(op.input_shape, form)
    assert expected in raised.value.message


def test_several_errors_are_counted() -> None:
    op = IAM.operation_model("UpdateAccessKey")
    with pytest.raises(ValidationError, match=r"^2 validation errors detected"):
        QueryReader().read(
            op.input_shape, {"AccessKeyId": "AKIA1234567890123456", "UserName": "a b"}
        )


def test_bad_numbers_and_enums() -> None:
    op = IAM.operation_model("ListUsers")
    with pytest.raises(ValidationError, match="Member must be a valid integer"):
        QueryReader().read(op.input_shape, {"MaxItems": "many"})
    with pytest.raises(ValidationError, match="Member must have value between 1 and 1000"):
        QueryReader().read(op.input_shape, {"MaxItems": "0"})
    op = IAM.operation_model("ListPolicies")
    with pytest.raises(ValidationError, match=r"enum value set: \[All, AWS, Local\]"):
        QueryReader().read(op.input_shape, {"Scope": "Mine"})


def test_every_model_pattern_translates() -> None:
    for model in (IAM, STS):
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern is not None:
                assert java_pattern(pattern) is not None, (name, pattern)
    tag = java_pattern(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+")
    assert tag is not None and tag.fullmatch("Équipe web_1") and not tag.fullmatch("a;b")


def test_form_params_take_body_and_query_and_refuse_bad_utf8() -> None:
    params = form_params(b"Action=ListUsers&Version=2010-05-08", "MaxItems=2&X-Amz-Date=x")
    assert params == {"Action": "ListUsers", "Version": "2010-05-08", "MaxItems": "2"}
    with pytest.raises(ValidationError):
        form_params(b"Action=\xff")


@settings(max_examples=100)
@given(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=8))
def test_reader_never_fails_except_with_validation_errors(form: dict[str, str]) -> None:
    for name in ("CreateUser", "SimulateCustomPolicy", "TagRole", "ListPolicies"):
        op = IAM.operation_model(name)
        with contextlib.suppress(ValidationError):
            QueryReader().read(op.input_shape, form)


def _parse(operation: str, xml: str, status: int = 200, model: Any = IAM) -> dict[str, Any]:
    op = model.operation_model(operation)
    response = {"body": xml.encode(), "status_code": status, "headers": {}}
    return dict(QueryParser().parse(response, op.output_shape))


def test_results_parse_with_botocore() -> None:
    created = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    result = {
        "User": {
            "Path": "/",
            "UserName": "bob & co",
            "UserId": "AIDA",
            "Arn": "arn:aws:iam::123456789012:user/bob",
            "CreateDate": created,
            "Tags": [{"Key": "a", "Value": "<b>"}],
        }
    }
    xml = render_result(IAM.operation_model("CreateUser"), result, "req-1", NS)
    assert xml.startswith(f'<CreateUserResponse xmlns="{NS}"><CreateUserResult><User>')
    parsed = _parse("CreateUser", xml)
    assert parsed["User"]["UserName"] == "bob & co"
    assert parsed["User"]["Tags"] == [{"Key": "a", "Value": "<b>"}]
    assert parsed["User"]["CreateDate"] == created
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


def test_maps_and_policy_documents_render_as_aws_does() -> None:
    xml = render_result(
        IAM.operation_model("GetAccountSummary"), {"SummaryMap": {"Users": 3}}, "r", NS
    )
    assert _parse("GetAccountSummary", xml)["SummaryMap"] == {"Users": 3}
    document = '{"Statement": [{"Effect": "Allow"}]}'
    result = {"UserName": "bob", "PolicyName": "p", "PolicyDocument": document}
    xml = render_result(IAM.operation_model("GetUserPolicy"), result, "r", NS)
    assert "%7B%22Statement%22" in xml


def test_operations_without_output_have_only_metadata() -> None:
    xml = render_result(IAM.operation_model("DeleteUser"), {}, "r", NS)
    assert xml == (
        f'<DeleteUserResponse xmlns="{NS}"><ResponseMetadata><RequestId>r</RequestId>'
        "</ResponseMetadata></DeleteUserResponse>"
    )


def test_errors_render_with_the_query_code() -> None:
    xml = render_error(NoSuchEntityError("The user with name <x> cannot be found."), "r", NS)
    parsed = _parse("GetUser", xml, 404)
    assert parsed["Error"]["Code"] == "NoSuchEntity"
    assert parsed["Error"]["Message"] == "The user with name <x> cannot be found."
    assert "<Type>Sender</Type>" in xml
    assert "<Code>InvalidClientTokenId</Code>" in render_error(
        UnrecognizedClientError("x"), "r", NS
    )
