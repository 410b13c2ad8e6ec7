"""What the ECR API tests share: a real server, boto3 clients whose every reply is re-parsed by
botocore's own parser against the model, raw signed requests for bad input, skopeo."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.parsers
import botocore.session
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from .conftest import (
    ACCOUNT_ID,
    REGION,
    ROOT_ACCESS_KEY_ID,
    ROOT_SECRET_ACCESS_KEY,
    RegistryServer,
)

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
CONTENT_TYPE = "application/x-amz-json-1.1"
SKOPEO_TIMEOUT = 120

MODEL = botocore.session.get_session().get_service_model("ecr")
KNOWN_ERRORS = {shape.name for shape in MODEL.error_shapes} | {
    "AccessDeniedException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "SerializationException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "ValidationException",
}

PARSED_OPERATIONS: set[str] = set()
"""Every operation whose reply botocore's parser has checked in this session."""


def start_server(root: Path) -> RegistryServer:
    server = RegistryServer(kind="berth", data_dir=root / "data", log_dir=root)
    server.start()
    return server


def serve(factory: pytest.TempPathFactory, name: str) -> Iterator[RegistryServer]:
    server = start_server(factory.mktemp(name))
    try:
        yield server
    finally:
        server.stop()


def _unknown_members(shape: Any, value: Any, path: str) -> list[str]:
    """Members of ``value`` the model's ``shape`` does not have (recursively)."""
    if shape.type_name == "structure" and isinstance(value, dict):
        found = []
        for key, item in value.items():
            if key not in shape.members:
                found.append(f"{path}.{key}")
            else:
                found += _unknown_members(shape.members[key], item, f"{path}.{key}")
        return found
    if shape.type_name == "list" and isinstance(value, list):
        return [m for item in value for m in _unknown_members(shape.member, item, f"{path}[]")]
    return []


def check_reply(operation: str, status: int, headers: dict[str, str], body: bytes) -> None:
    """Re-parse a raw reply with botocore's JSON parser and check it against the model."""
    assert "x-amzn-requestid" in {k.lower() for k in headers}, f"{operation}: no request id"
    model = MODEL.operation_model(operation)
    parser = botocore.parsers.create_parser("json")
    response = {"body": body, "headers": headers, "status_code": status}
    parsed = parser.parse(response, model.output_shape)
    document = json.loads(body) if body else {}
    if status >= 300:
        assert document["__type"] in KNOWN_ERRORS, document
        assert parsed["Error"]["Code"] == document["__type"]
        assert isinstance(document.get("message"), str)
        return
    assert headers.get("content-type", headers.get("Content-Type")) == CONTENT_TYPE
    if model.output_shape is not None:
        assert _unknown_members(model.output_shape, document, operation) == []
    PARSED_OPERATIONS.add(operation)


def _record(http_response: Any, model: Any, **_: Any) -> None:
    check_reply(
        model.name,
        http_response.status_code,
        dict(http_response.headers),
        http_response.content,
    )


def ecr_client(server: RegistryServer, **config: Any) -> Any:
    """A boto3 ECR client on the server as the account root; every reply is shape-checked."""
    client = boto3.client(
        "ecr",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=ROOT_ACCESS_KEY_ID,
        aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
        config=Config(retries={"max_attempts": 1}, **config),
    )
    client.meta.events.register("after-call.ecr", _record)
    return client


def raw_call(
    server: RegistryServer,
    operation: str,
    body: bytes | str | dict[str, Any],
    *,
    target: str | None = None,
    region: str = REGION,
    secret: str = ROOT_SECRET_ACCESS_KEY,
    signed: bool = True,
    content_type: str = CONTENT_TYPE,
) -> httpx.Response:
    """A hand-made ECR request (signed with botocore's signer), for input boto3 would refuse."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    data = data.encode() if isinstance(data, str) else data
    headers = {
        "X-Amz-Target": target if target is not None else TARGET_PREFIX + operation,
        "Content-Type": content_type,
    }
    request = AWSRequest(method="POST", url=server.url + "/", data=data, headers=headers)
    if signed:
        credentials = Credentials(ROOT_ACCESS_KEY_ID, secret)
        SigV4Auth(credentials, "ecr", region).add_auth(request)
    prepared = request.prepare()
    return httpx.post(
        server.url + "/", content=data, headers=dict(prepared.headers.items()), timeout=30
    )


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    assert response.headers["content-type"] == CONTENT_TYPE
    assert response.headers.get("x-amzn-requestid")
    document = response.json()
    return response.status_code, document["__type"], document["message"]


def skopeo(policy: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["skopeo", "--policy", str(policy), *args]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=SKOPEO_TIMEOUT, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stderr}")
    return result


def skopeo_policy(root: Path) -> Path:
    policy = root / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    return policy


__all__ = [
    "ACCOUNT_ID",
    "PARSED_OPERATIONS",
    "REGION",
    "check_reply",
    "ecr_client",
    "error_of",
    "raw_call",
    "serve",
    "skopeo",
    "skopeo_policy",
]
