"""The workloads, each run the same way against Berth and distribution.

Berth is driven as an IAM user (not the root) whose identity policy is evaluated on every request;
distribution runs without authentication.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import loadgen
from blobs import Client, push_bytes
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from seeding import MANY, digest_of, manifest_body, tag_name
from servers import ACCOUNT_ID, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, Server

REGION = "us-east-1"
APP, PUBLIC, PUT = "bench/app", "bench/public", "bench/put"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = {"Accept": MANIFEST_TYPE}
USER = "bench-ci"
ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"


def _statement(
    effect: str, actions: list[str], resource: str, **extra: object
) -> dict[str, object]:
    return {"Effect": effect, "Action": actions, "Resource": resource, **extra}


def user_policy() -> str:
    repos = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/"
    pull = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    push = ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"]
    team = {"StringEquals": {"aws:PrincipalTag/team": "bench"}}
    statements = [
        _statement("Allow", ["ecr:GetAuthorizationToken"], "*"),
        _statement("Allow", pull, repos + "bench/*", Condition=team),
        _statement("Allow", [*push, "ecr:PutImage", "ecr:CreateRepository"], repos + "bench/*"),
        _statement("Allow", ["ecr:Describe*", "ecr:ListImages"], "*"),
        _statement("Deny", ["ecr:*"], repos + "secret/*"),
        _statement("Deny", ["ecr:DeleteRepository", "ecr:BatchDeleteImage"], "*"),
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


PUBLIC_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicPull",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
)


@dataclass
class Target:
    """A started registry and what the workloads need to reach it."""

    server: Server
    manifest: str = ""
    put_template: str = ""
    many_digest: str = ""
    user_keys: tuple[str, str] | None = None
    sigv4_headers: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def is_berth(self) -> bool:
        return self.server.name == "berth"


def _client(service: str, url: str, keys: tuple[str, str]) -> object:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
    )


def _login_headers(url: str, keys: tuple[str, str]) -> dict[str, str]:
    ecr = _client("ecr", url, keys)
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]  # type: ignore[attr-defined]
    return {"Authorization": f"Basic {token}"}


def _make_user(url: str) -> tuple[str, str]:
    iam = _client("iam", url, (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY))
    iam.create_user(UserName=USER, Tags=[{"Key": "team", "Value": "bench"}])  # type: ignore[attr-defined]
    iam.put_user_policy(UserName=USER, PolicyName="registry", PolicyDocument=user_policy())  # type: ignore[attr-defined]
    key = iam.create_access_key(UserName=USER)["AccessKey"]  # type: ignore[attr-defined]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _signed_token_request(url: str, keys: tuple[str, str]) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=b"{}",
        headers={"X-Amz-Target": ECR_TARGET, "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(*keys), "ecr", REGION).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def push_image(client: Client, repository: str, tag: str) -> tuple[str, str]:
    """A small two-blob image; returns (manifest digest, a PUT body template for wrk)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "r": repository}).encode()
    layer = os.urandom(2048)
    config_digest = push_bytes(client, repository, config)
    layer_digest = push_bytes(client, repository, layer)
    body = manifest_body((config_digest, len(config)), [(layer_digest, len(layer))])
    headers = {"Content-Type": MANIFEST_TYPE}
    client.call("PUT", f"/v2/{repository}/manifests/{tag}", 201, body=body, headers=headers)
    template = manifest_body((config_digest, len(config)), [(layer_digest, len(layer))], "%d-%d")
    return digest_of(body), template.decode()


def prepare(server: Server) -> Target:
    target = Target(server)
    if server.name == "berth":
        target.user_keys = _make_user(server.url)
        server.headers = _login_headers(server.url, target.user_keys)
        target.sigv4_headers = _signed_token_request(server.url, target.user_keys)
    client = Client(server.port, server.headers)
    try:
        target.manifest, _ = push_image(client, APP, "latest")
        _, target.put_template = push_image(client, PUT, "base")
        if target.is_berth:
            push_image(client, PUBLIC, "latest")
            ecr = _client("ecr", server.url, (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY))
            ecr.set_repository_policy(repositoryName=PUBLIC, policyText=PUBLIC_POLICY)  # type: ignore[attr-defined]
        else:
            target.many_digest, _ = push_image(client, MANY, "base")
    finally:
        client.close()
    return target


# -- request rates (wrk) ----------------------------------------------------------------------


def manifest_rate(
    target: Target, method: str, seconds: float, repository: str = APP
) -> loadgen.Rate:
    headers = {**target.server.headers, **ACCEPT}
    url = f"{target.server.url}/v2/{repository}/manifests/latest"
    return loadgen.run_ab(url, method, headers, seconds=seconds)


def anonymous_rate(target: Target, seconds: float) -> loadgen.Rate:
    url = f"{target.server.url}/v2/{PUBLIC}/manifests/latest"
    return loadgen.run_ab(url, "GET", ACCEPT, seconds=seconds)


def put_rate(target: Target, seconds: float) -> loadgen.Rate:
    headers = {**target.server.headers, "Content-Type": MANIFEST_TYPE}
    script = loadgen.unique_put_script(f"/v2/{PUT}/manifests/w%d-%d", target.put_template, headers)
    return loadgen.run(target.server.url, script, seconds=seconds)


def token_rate(target: Target, seconds: float) -> loadgen.Rate:
    url = target.server.url + "/"
    return loadgen.run_ab(url, "POST", target.sigv4_headers, seconds=seconds, body=b"{}")


# -- listings ----------------------------------------------------------------------------------


def _follow(client: Client, path: str, key: str) -> tuple[int, int]:
    """GET ``path`` and every Link: rel="next" after it; (items, pages)."""
    items = pages = 0
    while path:
        response, data = client.call("GET", path, 200)
        items += len(json.loads(data)[key] or [])
        pages += 1
        link = response.headers.get("Link")
        path = urlsplit(link.split(";")[0].strip("<> ")).geturl() if link else ""
    return items, pages


def list_tags(target: Target, page: int | None, repository: str = MANY) -> tuple[float, int, int]:
    client = Client(target.server.port, target.server.headers)
    query = "" if page is None else f"?n={page}"
    try:
        started = time.perf_counter()
        items, pages = _follow(client, f"/v2/{repository}/tags/list{query}", "tags")
        return time.perf_counter() - started, items, pages
    finally:
        client.close()


def tag_page_ms(target: Target, page: int, start: int, requests: int = 50) -> float:
    """The median time of one ``?n=page&last=...`` request from the middle of the tag list."""
    client = Client(target.server.port, target.server.headers)
    path = f"/v2/{MANY}/tags/list?n={page}&last={tag_name(start)}"
    times = []
    try:
        for _ in range(requests):
            started = time.perf_counter()
            client.call("GET", path, 200)
            times.append(time.perf_counter() - started)
    finally:
        client.close()
    return statistics.median(times) * 1000


def catalog(target: Target, page: int) -> tuple[float, int, int]:
    client = Client(target.server.port, target.server.headers)
    try:
        started = time.perf_counter()
        items, pages = _follow(client, f"/v2/_catalog?n={page}", "repositories")
        return time.perf_counter() - started, items, pages
    finally:
        client.close()


def describe_images(target: Target) -> tuple[float, int]:
    assert target.user_keys is not None
    ecr = _client("ecr", target.server.url, target.user_keys)
    paginator = ecr.get_paginator("describe_images")  # type: ignore[attr-defined]
    started = time.perf_counter()
    count = 0
    for page in paginator.paginate(repositoryName=MANY, PaginationConfig={"PageSize": 1000}):
        count += len(page["imageDetails"])
    return time.perf_counter() - started, count


# -- skopeo -------------------------------------------------------------------------------------


def make_layout(folder: Path, layers: int, total: int) -> None:
    """An OCI image layout with ``layers`` random layers adding up to ``total`` bytes."""
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def write(data: bytes) -> tuple[str, int]:
        digest = digest_of(data)
        (blobs / digest.split(":")[1]).write_bytes(data)
        return digest, len(data)

    descriptors = [write(os.urandom(total // layers)) for _ in range(layers)]
    config = write(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode())
    manifest = write(manifest_body(config, descriptors))
    (folder / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": MANIFEST_TYPE,
                "digest": manifest[0],
                "size": manifest[1],
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
            }
        ],
    }
    (folder / "index.json").write_text(json.dumps(index))


def _credentials(target: Target) -> str | None:
    header = target.server.headers.get("Authorization")
    if header is None:
        return None
    return base64.b64decode(header.split()[1]).decode()


def skopeo(target: Target, source: str, destination: str, scratch: Path) -> float:
    command = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false"]
    creds = _credentials(target)
    if creds is not None:
        side = "--dest-creds" if destination.startswith("docker://") else "--src-creds"
        command += [side, creds]
    env = {**os.environ, "XDG_DATA_HOME": str(scratch)}
    started = time.perf_counter()
    subprocess.run([*command, source, destination], check=True, env=env, capture_output=True)
    return time.perf_counter() - started
