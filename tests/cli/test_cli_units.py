"""In-process checks of the pieces the commands are made of (no server)."""

from __future__ import annotations

import io
import json

import pytest
from awscli.text import format_text as aws_format_text
from botocore.session import get_session

from berth.cli.model import gather_lists
from berth.cli.output import format_text, to_plain
from berth.cli.shorthand import ParamError, ShorthandParser, parse_value

RESPONSES = [
    {
        "repositories": [
            {
                "repositoryName": "web",
                "createdAt": "2024",
                "imageScanningConfiguration": {"scanOnPush": False},
                "encryptionConfiguration": {"encryptionType": "AES256"},
            },
            {
                "repositoryName": "api",
                "registryId": "1",
                "imageScanningConfiguration": {"scanOnPush": True},
            },
        ]
    },
    {
        "imageIds": [{"imageTag": "a", "imageDigest": "sha256:1"}, {"imageDigest": "sha256:2"}],
        "nextToken": "x",
    },
    {"authorizationData": [{"authorizationToken": "dG9r", "proxyEndpoint": "http://h"}]},
    {"failures": [], "images": []},
    {"names": ["a", "b"], "nested": [["x", "y"], "z"]},
    ["one", "two"],
    "scalar",
]


@pytest.mark.parametrize("response", RESPONSES)
def test_text_output_matches_the_aws_cli(response: object) -> None:
    ours, theirs = io.StringIO(), io.StringIO()
    format_text(response, ours)
    aws_format_text(response, theirs)
    assert ours.getvalue() == theirs.getvalue()


def _input(operation: str, member: str):  # type: ignore[no-untyped-def]
    model = get_session().get_service_model("ecr").operation_model(operation)
    return model.input_shape.members[member]


def test_shorthand_structures_lists_and_types() -> None:
    assert ShorthandParser("a=1,b=[x,y],c={d=e}").parse() == {
        "a": "1",
        "b": ["x", "y"],
        "c": {"d": "e"},
    }
    scanning = _input("CreateRepository", "imageScanningConfiguration")
    assert parse_value(scanning, "scanOnPush=true", "--x") == {"scanOnPush": True}
    ids = _input("BatchGetImage", "imageIds")
    assert parse_value(ids, "imageTag=latest", "--image-ids") == [{"imageTag": "latest"}]
    assert parse_value(ids, '[{"imageDigest": "sha256:1"}]', "--x") == [{"imageDigest": "sha256:1"}]
    names = _input("DescribeRepositories", "repositoryNames")
    assert parse_value(names, "a,b", "--x") == ["a", "b"]


def test_shorthand_errors_name_the_problem() -> None:
    scanning = _input("CreateRepository", "imageScanningConfiguration")
    with pytest.raises(ParamError, match="valid keys are: scanOnPush"):
        parse_value(scanning, "scanOnPus=true", "--image-scanning-configuration")
    with pytest.raises(ParamError, match="expected true or false"):
        parse_value(scanning, "scanOnPush=maybe", "--image-scanning-configuration")
    with pytest.raises(ParamError, match="Error parsing parameter"):
        ShorthandParser("novalue").parse()


def test_list_flags_take_several_values() -> None:
    args = gather_lists(
        ["--image-ids", "imageTag=a", "imageTag=b", "--x", "y"], frozenset({"--image-ids"})
    )
    assert args[0] == "--image-ids"
    assert json.loads(args[1][1:]) == ["imageTag=a", "imageTag=b"]
    assert args[2:] == ["--x", "y"]


def test_plain_values_drop_metadata() -> None:
    assert to_plain({"a": b"\x00", "ResponseMetadata": {}}) == {"a": "AA=="}


@pytest.mark.parametrize("service", ["ecr", "iam", "sts"])
def test_every_operation_is_a_command_with_distinct_flags(service: str) -> None:
    from berth.cli.model import operation_command, service_model

    model = service_model(service)
    for operation in model.operation_names:
        command = operation_command(service, model.operation_model(operation))
        flags = [flag for p in command.params for flag in [*p.opts, *p.secondary_opts]]
        assert len(flags) == len(set(flags)), operation
