"""The seed's workflow, run by the aws CLI v1 with only AWS_ENDPOINT_URL and a config file set:
create a repository, get-login into skopeo, push, describe, list images."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REGION, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, RegistryServer
from .ecr_support import serve, skopeo, skopeo_policy
from .images import write_image_layout

pytestmark = [
    pytest.mark.clients,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]

AWS = str(Path(sys.executable).parent / "aws")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from serve(tmp_path_factory, "ecr-cli")


@pytest.fixture
def aws_env(server: RegistryServer, tmp_path: Path) -> dict[str, str]:
    """A clean environment: no AWS_* from the machine, a config file with the root's keys."""
    config = tmp_path / "aws-config"
    config.write_text(
        "[default]\n"
        f"region = {REGION}\n"
        f"aws_access_key_id = {ROOT_ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {ROOT_SECRET_ACCESS_KEY}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ENDPOINT_URL": server.url,
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "HOME": str(tmp_path),
            "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"),
        }
    )
    return env


def aws(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [AWS, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"`aws {' '.join(args)}` failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def test_seed_workflow_with_the_aws_cli(
    server: RegistryServer, aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"seed-{uuid.uuid4().hex[:8]}"
    created = json.loads(aws(aws_env, "ecr", "create-repository", "--repository-name", name))
    assert created["repository"]["repositoryName"] == name

    login = aws(aws_env, "ecr", "get-login", "--region", "us-east-1", "--no-include-email")
    words = shlex.split(login.strip())
    assert words[:3] == ["docker", "login", "-u"]
    user, password, endpoint = words[3], words[5], words[6]
    assert (user, endpoint) == ("AWS", server.url)

    monkeypatch.setenv("REGISTRY_AUTH_FILE", aws_env["REGISTRY_AUTH_FILE"])
    policy = skopeo_policy(tmp_path)
    host = endpoint.removeprefix("http://")
    skopeo(policy, "login", "--tls-verify=false", "-u", user, "-p", password, host)
    layout = write_image_layout(tmp_path / "layout", "v1")
    skopeo(
        policy, "copy", "--dest-tls-verify=false", layout.reference, f"docker://{host}/{name}:v1"
    )

    described = json.loads(aws(aws_env, "ecr", "describe-repositories"))
    assert name in [r["repositoryName"] for r in described["repositories"]]
    listed = json.loads(aws(aws_env, "ecr", "list-images", "--repository-name", name))
    assert [i.get("imageTag") for i in listed["imageIds"]] == ["v1"]


def test_get_login_password_logs_skopeo_in(
    server: RegistryServer, aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = aws(aws_env, "ecr", "get-login-password").strip()
    monkeypatch.setenv("REGISTRY_AUTH_FILE", aws_env["REGISTRY_AUTH_FILE"])
    policy = skopeo_policy(tmp_path)
    name = f"seed-{uuid.uuid4().hex[:8]}"
    aws(aws_env, "ecr", "create-repository", "--repository-name", name)
    layout = write_image_layout(tmp_path / "layout", "v1")
    skopeo(
        policy,
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        f"AWS:{password}",
        layout.reference,
        f"docker://{server.host}/{name}:v1",
    )
    result = skopeo(
        policy,
        "inspect",
        "--tls-verify=false",
        "--creds",
        f"AWS:{password}",
        f"docker://{server.host}/{name}:v1",
    )
    assert json.loads(result.stdout)["Digest"]
