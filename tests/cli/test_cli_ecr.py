"""`berth ecr`, `berth iam` and `berth sts` against a real server, with aws CLI-shaped output."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest

from .conftest import ACCOUNT_ID, Berth

pytestmark = pytest.mark.clients

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}
ALLOW_ASSUME = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}
ROOT_REFUSAL = (
    "An error occurred (AccessDenied) when calling the AssumeRole operation: "
    "Roles may not be assumed by root accounts."
)


def _name(prefix: str = "cli") -> str:
    return f"{prefix}/r-{uuid.uuid4().hex[:8]}"


def test_create_and_describe_in_every_output(berth: Berth) -> None:
    name = _name()
    created = json.loads(berth.ok("ecr", "create-repository", "--repository-name", name))
    assert created["repository"]["repositoryName"] == name
    assert created["repository"]["repositoryArn"].endswith(f":{ACCOUNT_ID}:repository/{name}")

    described = json.loads(
        berth.ok("ecr", "describe-repositories", "--repository-names", name, "--output", "json")
    )
    (repository,) = described["repositories"]
    assert repository["repositoryUri"] == f"{berth.server.host}/{name}"
    assert repository["createdAt"].endswith("+00:00")

    text = berth.ok("ecr", "describe-repositories", "--repository-names", name, "--output", "text")
    lines = text.splitlines()
    fields = lines[0].split("\t")
    assert fields[0] == "REPOSITORIES"
    assert fields[1:] == [
        repository["createdAt"],
        "MUTABLE",
        ACCOUNT_ID,
        repository["repositoryArn"],
        name,
        repository["repositoryUri"],
    ]
    assert "ENCRYPTIONCONFIGURATION\tAES256" in lines
    assert "IMAGESCANNINGCONFIGURATION\tFalse" in lines

    table = berth.ok(
        "--output", "table", "ecr", "describe-repositories", "--repository-names", name
    )
    assert "DescribeRepositories" in table
    assert "repositoryName" in table and name in table
    assert "+--" in table and "| encryptionType" in table


def test_structures_lists_booleans_and_cli_input_json(berth: Berth, tmp_path: Path) -> None:
    name = _name()
    berth.ok(
        "ecr",
        "create-repository",
        "--repository-name",
        name,
        "--image-scanning-configuration",
        "scanOnPush=true",
        "--image-tag-mutability",
        "IMMUTABLE",
        "--tags",
        "Key=team,Value=platform",
        "Key=env,Value=dev",
    )
    (repository,) = json.loads(
        berth.ok("ecr", "describe-repositories", "--repository-names", name)
    )["repositories"]
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["imageTagMutability"] == "IMMUTABLE"

    other = _name()
    request = tmp_path / "input.json"
    request.write_text(json.dumps({"repositoryName": other}))
    berth.ok("ecr", "create-repository", "--cli-input-json", f"file://{request}")
    both = berth.ok(
        "ecr",
        "describe-repositories",
        "--repository-names",
        name,
        other,
        "--query",
        "repositories[].repositoryName",
        "--output",
        "text",
    )
    assert sorted(both.split()) == sorted([name, other])

    missing = json.loads(
        berth.ok(
            "ecr",
            "batch-get-image",
            "--repository-name",
            name,
            "--image-ids",
            "imageTag=a",
            "imageTag=b",
        )
    )
    assert {f["imageId"]["imageTag"] for f in missing["failures"]} == {"a", "b"}
    berth.ok("ecr", "delete-repository", "--repository-name", other, "--force")


def test_get_login_password_and_get_login(berth: Berth) -> None:
    password = berth.ok("ecr", "get-login-password").strip()
    assert password and "\n" not in password
    login = berth.ok("ecr", "get-login", "--no-include-email").split()
    assert login[:4] == ["docker", "login", "-u", "AWS"]
    assert login[6] == berth.server.url
    with_email = berth.ok("ecr", "get-login").split()
    assert with_email[6:8] == ["-e", "none"]
    token = json.loads(berth.ok("ecr", "get-authorization-token"))
    decoded = base64.b64decode(token["authorizationData"][0]["authorizationToken"]).decode()
    assert decoded.startswith("AWS:")


def test_service_errors_exit_254_with_the_aws_message(berth: Berth) -> None:
    result = berth("ecr", "describe-repositories", "--repository-names", "no/such-repo")
    assert result.returncode == 254
    assert result.stderr.strip() == (
        "An error occurred (RepositoryNotFoundException) when calling the DescribeRepositories "
        f"operation: The repository with name 'no/such-repo' does not exist in the registry "
        f"with id '{ACCOUNT_ID}'"
    )
    assert "Traceback" not in result.stderr


def test_usage_errors(berth: Berth) -> None:
    bad_flag = berth("ecr", "describe-repositories", "--no-such-flag")
    assert bad_flag.returncode == 2
    assert "No such option" in bad_flag.stderr
    unknown = berth("ecr", "describe-everything")
    assert unknown.returncode == 2
    bad_value = berth(
        "ecr",
        "create-repository",
        "--repository-name",
        "x",
        "--image-scanning-configuration",
        "scanOnPush=perhaps",
    )
    assert bad_value.returncode == 252
    assert "expected true or false" in bad_value.stderr
    missing = berth("ecr", "create-repository")
    assert missing.returncode == 252
    assert "repositoryName" in missing.stderr
    for result in (bad_flag, unknown, bad_value, missing):
        assert "Traceback" not in result.stderr


def test_credentials_come_from_the_files(berth: Berth, tmp_path: Path) -> None:
    result = berth(
        "ecr", "describe-repositories", env={"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    )
    assert result.returncode == 253
    assert "Unable to locate credentials" in result.stderr
    missing_profile = berth("--profile", "nosuch", "ecr", "describe-repositories")
    assert missing_profile.returncode == 253
    assert "nosuch" in missing_profile.stderr


def test_iam_users_and_keys(berth: Berth) -> None:
    user = f"cli-{uuid.uuid4().hex[:6]}"
    berth.ok("iam", "create-user", "--user-name", user)
    key = json.loads(berth.ok("iam", "create-access-key", "--user-name", user))["AccessKey"]
    listed = berth.ok("iam", "list-access-keys", "--user-name", user, "--output", "text")
    assert key["AccessKeyId"] in listed
    berth.ok(
        "iam",
        "update-access-key",
        "--user-name",
        user,
        "--access-key-id",
        key["AccessKeyId"],
        "--status",
        "Inactive",
    )
    users = json.loads(berth.ok("iam", "list-users"))["Users"]
    assert user in {u["UserName"] for u in users}
    berth.ok("iam", "delete-access-key", "--user-name", user, "--access-key-id", key["AccessKeyId"])
    berth.ok("iam", "delete-user", "--user-name", user)


def _make_role(berth: Berth, tmp_path: Path) -> tuple[str, str]:
    """A new role trusting the account (``TRUST``): its name and ARN."""
    role = f"cli-role-{uuid.uuid4().hex[:6]}"
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(TRUST))
    berth.ok(
        "iam",
        "create-role",
        "--role-name",
        role,
        "--assume-role-policy-document",
        f"file://{trust}",
    )
    return role, f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"


def test_a_role_profile_assumes_the_role_from_an_iam_user(berth: Berth, tmp_path: Path) -> None:
    """A profile whose source is the root is refused, as AWS refuses the root any role."""
    role, role_arn = _make_role(berth, tmp_path)
    source = f"cli-assumer-{uuid.uuid4().hex[:6]}"
    source_key = _user_allowed_to_assume(berth, source, tmp_path)
    credentials, profiles = berth.home / "credentials", berth.home / "config"
    original_credentials, original = credentials.read_text(), profiles.read_text()
    try:
        credentials.write_text(
            original_credentials + f"[{source}]\naws_access_key_id = {source_key['AccessKeyId']}\n"
            f"aws_secret_access_key = {source_key['SecretAccessKey']}\n"
        )
        profiles.write_text(
            original + f"[profile {role}]\nrole_arn = {role_arn}\n"
            f"source_profile = {source}\nregion = us-east-1\n"
            f"[profile {role}-as-root]\nrole_arn = {role_arn}\n"
            "source_profile = default\nregion = us-east-1\n"
        )
        identity = json.loads(berth.ok("--profile", role, "sts", "get-caller-identity"))
        assert f":assumed-role/{role}/" in identity["Arn"]
        denied = berth("--profile", role, "ecr", "create-repository", "--repository-name", "xy")
        assert denied.returncode == 254
        assert "AccessDeniedException" in denied.stderr
        as_root = berth("--profile", f"{role}-as-root", "sts", "get-caller-identity")
        assert as_root.returncode == 254 and ROOT_REFUSAL in as_root.stderr, as_root.stderr
    finally:
        credentials.write_text(original_credentials)
        profiles.write_text(original)
    berth.ok(
        "iam",
        "delete-access-key",
        "--user-name",
        source,
        "--access-key-id",
        source_key["AccessKeyId"],
    )
    berth.ok("iam", "delete-user-policy", "--user-name", source, "--policy-name", "assume")
    berth.ok("iam", "delete-user", "--user-name", source)
    berth.ok("iam", "delete-role", "--role-name", role)


def test_sts_assume_role_refuses_the_root(berth: Berth, tmp_path: Path) -> None:
    role, role_arn = _make_role(berth, tmp_path)
    refused = berth("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "root")
    assert refused.returncode == 254
    assert ROOT_REFUSAL in refused.stderr and "Traceback" not in refused.stderr
    berth.ok("iam", "delete-role", "--role-name", role)


def _user_allowed_to_assume(berth: Berth, name: str, tmp_path: Path) -> dict[str, str]:
    """An IAM user whose identity policy allows sts:AssumeRole, and its new access key."""
    policy = tmp_path / "assume.json"
    policy.write_text(json.dumps(ALLOW_ASSUME))
    berth.ok("iam", "create-user", "--user-name", name)
    berth.ok(
        "iam", "put-user-policy", "--user-name", name, "--policy-name", "assume",
        "--policy-document", f"file://{policy}",
    )  # fmt: skip
    key = json.loads(berth.ok("iam", "create-access-key", "--user-name", name))["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
