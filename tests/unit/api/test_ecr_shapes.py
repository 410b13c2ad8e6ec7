import json

import pytest

from berth.api.ecr.shapes import EcrModel
from berth.errors import SerializationError, ServerError, ValidationError

MODEL = EcrModel()


def parse(operation: str, body: object) -> dict[str, object]:
    return MODEL.parse_input(operation, json.dumps(body).encode())


def test_valid_input_keeps_known_members_only() -> None:
    params = parse("CreateRepository", {"repositoryName": "web/app", "unknown": 1})
    assert params == {"repositoryName": "web/app"}


def test_empty_body_is_an_empty_object() -> None:
    assert MODEL.parse_input("DescribeRepositories", b"") == {}


def test_blob_members_are_decoded() -> None:
    body = {
        "repositoryName": "web",
        "uploadId": "0f0e0d0c-0b0a-4000-8000-000000000000",
        "partFirstByte": 0,
        "partLastByte": 2,
        "layerPartBlob": "YWJj",
    }
    assert parse("UploadLayerPart", body)["layerPartBlob"] == b"abc"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {},
            "1 validation error detected: Value null at 'repositoryName' failed to satisfy "
            "constraint: Member must not be null",
        ),
        (
            {"repositoryName": "UPPER"},
            "1 validation error detected: Value 'UPPER' at 'repositoryName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*",
        ),
        (
            {"repositoryName": "ab", "imageTagMutability": "NO"},
            "1 validation error detected: Value 'NO' at 'imageTagMutability' failed to satisfy "
            "constraint: Member must satisfy enum value set: [MUTABLE, IMMUTABLE, "
            "IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]",
        ),
    ],
)
def test_validation_messages_are_aws_words(body: object, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        parse("CreateRepository", body)
    assert error.value.message == message


def test_several_errors_are_counted() -> None:
    with pytest.raises(ValidationError) as error:
        parse("DescribeImages", {"repositoryName": "a", "maxResults": 5000})
    assert error.value.message.startswith("2 validation errors detected: ")
    assert "Value '5000' at 'maxResults'" in error.value.message


@pytest.mark.parametrize(
    "body",
    [[], {"repositoryName": 1}, {"repositoryName": "ab", "tags": {}}, {"repositoryName": True}],
)
def test_wrong_json_types_are_serialization_errors(body: object) -> None:
    with pytest.raises(SerializationError):
        parse("CreateRepository", body)


def test_not_json_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError):
        MODEL.parse_input("CreateRepository", b"{nope")


def test_output_drops_none_and_converts_types() -> None:
    from datetime import UTC, datetime

    at = datetime(2024, 1, 1, tzinfo=UTC)
    reply = MODEL.render_output(
        "GetLifecyclePolicy",
        {"registryId": "123456789012", "lastEvaluatedAt": at, "lifecyclePolicyText": None},
    )
    assert reply == {"registryId": "123456789012", "lastEvaluatedAt": at.timestamp()}


def test_output_refuses_members_the_model_lacks() -> None:
    with pytest.raises(ServerError):
        MODEL.render_output("DescribeRegistry", {"registryId": "1", "bogus": 1})
