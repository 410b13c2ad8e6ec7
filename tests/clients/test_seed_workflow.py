"""The workflow Berth was born from, verbatim, with IAM as the reference describes it.

A consumer user holds the seed's read-only `DockerRegistryConsumerPolicy` (generated with awacs
and troposphere exactly as in shared/reference); a `registry-admin` role allowed `ecr:*` is
assumed through STS by an aws CLI profile (`role_arn` + `source_profile`) and pushes. The
consumer logs in, pulls and browses, and is refused push with AWS's own message.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seed import consumer_policy_json

from .conftest import ACCOUNT_ID, REGION, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, RegistryServer
from .ecr_support import serve, skopeo, skopeo_policy
from .images import write_image_layout

pytestmark = [
    pytest.mark.clients,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]

AWS = str(Path(sys.executable).parent / "aws")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from serve(tmp_path_factory, "seed")


class Aws:
    def __init__(self, server: RegistryServer, home: Path) -> None:
        self.home = home
        self.config = home / "config"
        self.credentials = home / "credentials"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update(
            {
                "AWS_ENDPOINT_URL": server.url,
                "AWS_CONFIG_FILE": str(self.config),
                "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials),
                "HOME": str(home),
            }
        )

    def run(self, *args: str, profile: str = "default", ok: bool = True) -> str:
        result = subprocess.run(
            [AWS, "--profile", profile, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=self.env,
            check=False,
        )
        if ok and result.returncode != 0:
            pytest.fail(f"`aws {' '.join(args)}` failed ({result.returncode}):\n{result.stderr}")
        return result.stdout if ok else result.stderr

    def json(self, *args: str, profile: str = "default") -> dict[str, object]:
        reply: dict[str, object] = json.loads(self.run(*args, profile=profile))
        return reply


def login(aws: Aws, policy: Path, profile: str) -> str:
    """`$(aws ecr get-login --region us-east-1)`, with skopeo standing in for docker."""
    command = shlex.split(
        aws.run("ecr", "get-login", "--region", "us-east-1", "--no-include-email", profile=profile)
    )
    assert command[:3] == ["docker", "login", "-u"] and command[3] == "AWS"
    host = command[6].removeprefix("http://")
    skopeo(policy, "login", "--tls-verify=false", "-u", "AWS", "-p", command[5], host)
    return host


def set_up_identities(aws: Aws, tmp_path: Path) -> None:
    """As the account root: the consumer user, the CI user and the registry-admin role."""
    document = tmp_path / "consumer.json"
    document.write_text(consumer_policy_json())
    aws.run("iam", "create-user", "--user-name", "consumer")
    aws.run(
        "iam", "put-user-policy", "--user-name", "consumer",
        "--policy-name", "DockerRegistryConsumerPolicy", "--policy-document", f"file://{document}",
    )  # fmt: skip
    consumer = aws.json("iam", "create-access-key", "--user-name", "consumer")["AccessKey"]
    aws.run("iam", "create-user", "--user-name", "ci")
    ci = aws.json("iam", "create-access-key", "--user-name", "ci")["AccessKey"]
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/registry-admin"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/ci"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    aws.run(
        "iam", "create-role", "--role-name", "registry-admin",
        "--assume-role-policy-document", json.dumps(trust),
    )  # fmt: skip
    admin = {"Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}
    aws.run(
        "iam", "put-role-policy", "--role-name", "registry-admin",
        "--policy-name", "RegistryAdmin", "--policy-document", json.dumps(admin),
    )  # fmt: skip
    assume = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}
    aws.run(
        "iam", "put-user-policy", "--user-name", "ci",
        "--policy-name", "AssumeRegistryAdmin", "--policy-document", json.dumps(assume),
    )  # fmt: skip
    assert isinstance(consumer, dict) and isinstance(ci, dict)
    aws.credentials.write_text(
        f"[consumer]\naws_access_key_id = {consumer['AccessKeyId']}\n"
        f"aws_secret_access_key = {consumer['SecretAccessKey']}\n"
        f"[ci]\naws_access_key_id = {ci['AccessKeyId']}\n"
        f"aws_secret_access_key = {ci['SecretAccessKey']}\n"
        f"[default]\naws_access_key_id = {ROOT_ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {ROOT_SECRET_ACCESS_KEY}\n"
    )
    aws.config.write_text(
        f"[default]\nregion = {REGION}\n"
        f"[profile consumer]\nregion = {REGION}\n"
        f"[profile ci]\nregion = {REGION}\n"
        f"[profile registry-admin]\nregion = {REGION}\n"
        f"role_arn = {role_arn}\nsource_profile = ci\n"
    )


def test_the_seed_workflow(
    server: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws = Aws(server, tmp_path)
    aws.credentials.write_text(
        f"[default]\naws_access_key_id = {ROOT_ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {ROOT_SECRET_ACCESS_KEY}\n"
    )
    aws.config.write_text(f"[default]\nregion = {REGION}\n")
    set_up_identities(aws, tmp_path)
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))
    policy = skopeo_policy(tmp_path)
    image = write_image_layout(tmp_path / "image", "v1")

    who = aws.json("sts", "get-caller-identity", profile="registry-admin")
    assert str(who["Arn"]).startswith(f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/registry-admin/")

    # The administrator (the assumed role) creates the repository and pushes.
    aws.run("ecr", "create-repository", "--repository-name", "web", profile="registry-admin")
    host = login(aws, policy, "registry-admin")
    skopeo(policy, "copy", "--dest-tls-verify=false", image.reference, f"docker://{host}/web:v1")

    # `docker logout`, then the consumer logs in: it pulls and browses...
    skopeo(policy, "logout", "--all")
    login(aws, policy, "consumer")
    pulled = tmp_path / "pulled"
    skopeo(policy, "copy", "--src-tls-verify=false", f"docker://{host}/web:v1", f"oci:{pulled}:v1")
    names = [r["repositoryName"] for r in aws.json("ecr", "describe-repositories", profile="consumer")["repositories"]]  # type: ignore[index]  # fmt: skip
    assert names == ["web"]
    images = aws.json("ecr", "list-images", "--repository-name", "web", profile="consumer")
    assert [i["imageTag"] for i in images["imageIds"]] == ["v1"]  # type: ignore[attr-defined]

    # ...and may not push, by the registry or by the ECR API, with AWS's reason.
    refused = skopeo(
        policy, "copy", "--dest-tls-verify=false", image.reference, f"docker://{host}/web:v2",
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    consumer_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/consumer"
    assert f"User: {consumer_arn} is not authorized to perform: ecr:" in refused.stderr
    manifest = (pulled / "index.json").read_text()
    error = aws.run(
        "ecr", "put-image", "--repository-name", "web", "--image-tag", "v3",
        "--image-manifest", manifest, profile="consumer", ok=False,
    )  # fmt: skip
    assert (
        f"User: {consumer_arn} is not authorized to perform: ecr:PutImage on resource: "
        f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/web because no identity-based policy "
        "allows the ecr:PutImage action"
    ) in error
