"""HTTPS: `berth serve --dev-tls` and `--tls-cert/--tls-key` with skopeo, boto3 and HTTP/2."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from berth.cli.devtls import dev_names, ensure_dev_tls

from .conftest import (
    REGION,
    ROOT_ACCESS_KEY_ID,
    ROOT_SECRET_ACCESS_KEY,
    RegistryServer,
)
from .images import layout_digest, write_image_layout
from .test_skopeo import skopeo, skopeo_env

pytestmark = pytest.mark.clients
__all__ = ["skopeo_env"]

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
TIMEOUT = 30.0


def _start(root: Path, args: list[str], ca_file: Path) -> Iterator[RegistryServer]:
    server = RegistryServer("berth", root / "data", root, args=args, ca_file=ca_file)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dev_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """`berth serve --dev-tls`: the CA appears in DATA_DIR/tls/ as the server starts."""
    root = tmp_path_factory.mktemp("dev-tls")
    yield from _start(root, ["--dev-tls"], root / "data" / "tls" / "ca.crt")


@pytest.fixture(scope="module")
def cert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """`berth serve --tls-cert --tls-key` with certificate files made beforehand."""
    root = tmp_path_factory.mktemp("tls-cert")
    made = ensure_dev_tls(root / "certs", dev_names("127.0.0.1"))
    args = ["--tls-cert", str(made.server_cert), "--tls-key", str(made.server_key)]
    yield from _start(root, args, made.ca_cert)


def _cert_dir(tmp_path: Path, server: RegistryServer) -> Path:
    assert server.ca_file is not None
    folder = tmp_path / "certs.d"
    folder.mkdir(exist_ok=True)
    shutil.copy(server.ca_file, folder / "ca.crt")
    return folder


def _ecr(server: RegistryServer, **credentials: str) -> Any:
    return boto3.client(
        "ecr",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=credentials.get("key", ROOT_ACCESS_KEY_ID),
        aws_secret_access_key=credentials.get("secret", ROOT_SECRET_ACCESS_KEY),
        verify=str(server.ca_file),
        config=Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"max_attempts": 1}),
    )


@needs_skopeo
def test_skopeo_pushes_and_pulls_over_https_with_the_dev_ca_trusted(
    tmp_path: Path, skopeo_env: Path, dev_tls_server: RegistryServer
) -> None:
    certs = _cert_dir(tmp_path, dev_tls_server)
    source = write_image_layout(tmp_path / "source", "v1")
    target = f"docker://{dev_tls_server.host}/tls/app:v1"
    assert dev_tls_server.creds is not None
    creds = dev_tls_server.creds
    skopeo(
        skopeo_env, "copy", "--dest-cert-dir", str(certs), "--dest-creds", creds,
        source.reference, target,
    )  # fmt: skip
    back = tmp_path / "back"
    skopeo(
        skopeo_env, "copy", "--src-cert-dir", str(certs), "--src-creds", creds,
        target, f"oci:{back}:v1",
    )  # fmt: skip
    assert layout_digest(back, "v1") == layout_digest(source.path, "v1")


@needs_skopeo
def test_skopeo_refuses_the_dev_certificate_when_the_ca_is_not_trusted(
    tmp_path: Path, skopeo_env: Path, dev_tls_server: RegistryServer
) -> None:
    empty = tmp_path / "no-certs"
    empty.mkdir()
    assert dev_tls_server.creds is not None
    result = skopeo(
        skopeo_env, "inspect", "--cert-dir", str(empty), "--creds", dev_tls_server.creds,
        f"docker://{dev_tls_server.host}/tls/app:v1", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "x509" in result.stderr, result.stderr


def test_a_client_that_does_not_trust_the_ca_is_refused(dev_tls_server: RegistryServer) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{dev_tls_server.url}/healthz", timeout=TIMEOUT)


def test_http2_is_negotiated_over_tls(dev_tls_server: RegistryServer) -> None:
    pytest.importorskip("h2")
    with httpx.Client(http2=True, verify=dev_tls_server.verify, timeout=TIMEOUT) as client:
        response = client.get(f"{dev_tls_server.url}/v2/", auth=dev_tls_server.auth)
    assert response.status_code == 200
    assert response.http_version == "HTTP/2"


def test_http1_clients_are_still_served(dev_tls_server: RegistryServer) -> None:
    with httpx.Client(verify=dev_tls_server.verify, timeout=TIMEOUT) as client:
        response = client.get(f"{dev_tls_server.url}/healthz")
    assert response.status_code == 200
    assert response.http_version == "HTTP/1.1"


def test_the_challenge_names_the_https_realm(dev_tls_server: RegistryServer) -> None:
    response = httpx.get(f"{dev_tls_server.url}/v2/", verify=dev_tls_server.verify, timeout=TIMEOUT)
    assert response.status_code == 401
    assert f'realm="https://{dev_tls_server.host}/"' in response.headers["www-authenticate"]


def test_boto3_calls_the_ecr_api_over_https(cert_server: RegistryServer) -> None:
    ecr = _ecr(cert_server)
    created = ecr.create_repository(repositoryName="tls/boto3")
    assert created["repository"]["repositoryUri"].endswith("/tls/boto3")
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert "tls/boto3" in names
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(token).decode().split(":", 1)
    response = httpx.get(
        f"{cert_server.url}/v2/tls/boto3/tags/list",
        auth=(user, password),
        verify=cert_server.verify,
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text


def test_secure_transport_is_true_over_https(cert_server: RegistryServer) -> None:
    """A user allowed ECR only when aws:SecureTransport is true is allowed over HTTPS."""
    iam = boto3.client(
        "iam",
        endpoint_url=cert_server.url,
        region_name=REGION,
        aws_access_key_id=ROOT_ACCESS_KEY_ID,
        aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
        verify=str(cert_server.ca_file),
    )
    iam.create_user(UserName="https-only")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ecr:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
    }
    iam.put_user_policy(
        UserName="https-only", PolicyName="https", PolicyDocument=json.dumps(policy)
    )
    key = iam.create_access_key(UserName="https-only")["AccessKey"]
    ecr = _ecr(cert_server, key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    ecr.create_repository(repositoryName="tls/secure")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(token).decode().split(":", 1)
    response = httpx.get(
        f"{cert_server.url}/v2/tls/secure/tags/list",
        auth=(user, password),
        verify=cert_server.verify,
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    assert ecr.describe_repositories(repositoryNames=["tls/secure"])["repositories"]


def test_a_trusted_proxy_says_the_client_came_over_https(tmp_path: Path) -> None:
    """Behind a proxy that terminates TLS, X-Forwarded-Proto from a trusted address counts."""
    server = RegistryServer(
        "berth", tmp_path / "data", tmp_path, env={"BERTH_TRUSTED_PROXIES": "127.0.0.1"}
    )
    server.start()
    try:
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        response = httpx.get(f"{server.url}/v2/", headers=forwarded, timeout=TIMEOUT)
        assert f'realm="https://{server.host}/"' in response.headers["www-authenticate"]
        plain = httpx.get(f"{server.url}/v2/", timeout=TIMEOUT)
        assert f'realm="http://{server.host}/"' in plain.headers["www-authenticate"]
    finally:
        server.stop()


def test_http2_false_serves_http1_only(tmp_path: Path) -> None:
    pytest.importorskip("h2")
    server = RegistryServer(
        "berth",
        tmp_path / "data",
        tmp_path,
        env={"BERTH_HTTP2": "false"},
        args=["--dev-tls"],
        ca_file=tmp_path / "data" / "tls" / "ca.crt",
    )
    server.start()
    try:
        with httpx.Client(http2=True, verify=server.verify, timeout=TIMEOUT) as client:
            response = client.get(f"{server.url}/healthz")
        assert (response.status_code, response.http_version) == (200, "HTTP/1.1")
    finally:
        server.stop()
