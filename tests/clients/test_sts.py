"""The STS API (and credentials on every AWS API) driven by boto3 and the aws CLI."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .iam_server import ACCOUNT, ROOT_KEY, ROOT_SECRET, Server, running_server

pytestmark = pytest.mark.clients

TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}
ALLOW_ASSUME = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("sts")) as running:
        yield running


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    return server.client("iam")


@pytest.fixture(scope="module")
def admin_role(iam: Any) -> str:
    role = iam.create_role(
        RoleName="registry-admin", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT)
    )
    iam.put_role_policy(
        RoleName="registry-admin", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL)
    )
    return str(role["Role"]["Arn"])


@pytest.fixture(scope="module")
def assumer(server: Server, iam: Any) -> Any:
    """STS for an IAM user allowed sts:AssumeRole: the account root may not assume roles."""
    user = user_with_key(iam, "sts-assumer", ALLOW_ASSUME)
    return server.client("sts", user["key"], user["secret"])


def failure(call: Callable[[], object]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return (
        error["Error"]["Code"],
        error["Error"]["Message"],
        error["ResponseMetadata"]["HTTPStatusCode"],
    )


def user_with_key(iam: Any, name: str, policy: dict[str, Any] | None = None) -> dict[str, str]:
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def session_client(server: Server, service: str, credentials: dict[str, Any]) -> Any:
    return server.client(
        service,
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )


# -- GetCallerIdentity ---------------------------------------------------------------------------


def test_caller_identity_of_root_and_of_a_user(server: Server, iam: Any) -> None:
    root = server.client("sts").get_caller_identity()
    assert (root["Account"], root["Arn"], root["UserId"]) == (
        ACCOUNT,
        f"arn:aws:iam::{ACCOUNT}:root",
        ACCOUNT,
    )
    bob = user_with_key(iam, "sts-bob")
    who = server.client(
        "sts", bob["key"], bob["secret"], region="eu-central-1"
    ).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/sts-bob"
    assert who["UserId"].startswith("AIDA")


# -- AssumeRole ----------------------------------------------------------------------------------


def test_assume_role_returns_working_temporary_credentials(
    server: Server, assumer: Any, admin_role: str
) -> None:
    assumed = assumer.assume_role(
        RoleArn=admin_role, RoleSessionName="ci-build", DurationSeconds=900
    )
    credentials = assumed["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert credentials["SessionToken"]
    expires = credentials["Expiration"]
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=16)
    user = assumed["AssumedRoleUser"]
    assert user["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/registry-admin/ci-build"
    assert user["AssumedRoleId"].startswith("AROA") and user["AssumedRoleId"].endswith(":ci-build")
    who = session_client(server, "sts", credentials).get_caller_identity()
    assert who["Arn"] == user["Arn"] and who["UserId"] == user["AssumedRoleId"]
    assert session_client(server, "iam", credentials).get_role(RoleName="registry-admin")


def test_assume_role_refusals(iam: Any, assumer: Any, admin_role: str) -> None:
    sts = assumer
    missing = f"arn:aws:iam::{ACCOUNT}:role/nobody"
    code, message, status = failure(lambda: sts.assume_role(RoleArn=missing, RoleSessionName="s1"))
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/sts-assumer is not authorized to perform: "
        f"sts:AssumeRole on resource: {missing}"
    )
    code, message, _ = failure(
        lambda: sts.assume_role(RoleArn=admin_role, RoleSessionName="s1", DurationSeconds=7200)
    )
    assert (code, message) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    code, _, _ = failure(lambda: sts.assume_role(RoleArn=admin_role, RoleSessionName="bad name!"))
    assert code == "ValidationError"
    code, message, _ = failure(
        lambda: sts.assume_role(RoleArn=admin_role, RoleSessionName="s1", Policy="{")
    )
    assert code == "MalformedPolicyDocument" and message.startswith("Syntax errors in policy.")
    other = {
        "Statement": [
            {
                **TRUST_ACCOUNT["Statement"][0],
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            }
        ]
    }
    iam.create_role(RoleName="foreign-only", AssumeRolePolicyDocument=json.dumps(other))
    code, _, _ = failure(
        lambda: sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/foreign-only", RoleSessionName="s1"
        )
    )
    assert code == "AccessDenied"


def test_a_user_needs_an_identity_allow_and_the_trust_policy(
    server: Server, iam: Any, admin_role: str
) -> None:
    plain = user_with_key(iam, "sts-plain")
    code, message, _ = failure(
        lambda: server.client("sts", plain["key"], plain["secret"]).assume_role(
            RoleArn=admin_role, RoleSessionName="x1"
        )
    )
    assert (
        code == "AccessDenied"
        and "because no identity-based policy allows the sts:AssumeRole" in message
    )
    allowed = user_with_key(iam, "sts-allowed", ALLOW_ASSUME)
    sts = server.client("sts", allowed["key"], allowed["secret"])
    assumed = sts.assume_role(RoleArn=admin_role, RoleSessionName="x2")
    assert assumed["AssumedRoleUser"]["Arn"].endswith(":assumed-role/registry-admin/x2")
    chained = session_client(server, "sts", assumed["Credentials"])
    code, message, _ = failure(
        lambda: chained.assume_role(RoleArn=admin_role, RoleSessionName="x3", DurationSeconds=7200)
    )
    assert code == "ValidationError" and "role chaining" in message


def test_a_trust_policy_naming_the_user_needs_no_identity_allow(server: Server, iam: Any) -> None:
    """As in AWS, in one account: a trust policy naming the user exactly is enough on its own."""
    named = user_with_key(iam, "sts-named")
    user_arn = iam.get_user(UserName="sts-named")["User"]["Arn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="named-trust", AssumeRolePolicyDocument=json.dumps(trust))
    sts = server.client("sts", named["key"], named["secret"])
    assumed = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="n1")
    assert assumed["AssumedRoleUser"]["Arn"].endswith(":assumed-role/named-trust/n1")
    other = user_with_key(iam, "sts-other", ALLOW_ASSUME)
    code, _, _ = failure(
        lambda: server.client("sts", other["key"], other["secret"]).assume_role(
            RoleArn=role["Role"]["Arn"], RoleSessionName="n2"
        )
    )
    assert code == "AccessDenied"


ROOT_REFUSAL = "Roles may not be assumed by root accounts."


def test_the_root_may_not_assume_a_role_whatever_the_trust_policy(
    server: Server, iam: Any, admin_role: str
) -> None:
    """As in AWS: the account root's credentials, long-term or from GetSessionToken, are refused."""
    trust_all = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    open_role = iam.create_role(
        RoleName="trusts-all", AssumeRolePolicyDocument=json.dumps(trust_all)
    )
    missing = f"arn:aws:iam::{ACCOUNT}:role/nobody"
    root = server.client("sts")
    root_session = session_client(
        server, "sts", root.get_session_token(DurationSeconds=900)["Credentials"]
    )
    for sts in (root, root_session):
        for arn in (admin_role, open_role["Role"]["Arn"], missing):
            with pytest.raises(ClientError) as raised:
                sts.assume_role(RoleArn=arn, RoleSessionName="as-root")
            error = raised.value.response
            assert (error["Error"]["Code"], error["Error"]["Message"]) == (
                "AccessDenied",
                ROOT_REFUSAL,
            )
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
            assert str(raised.value) == (
                "An error occurred (AccessDenied) when calling the AssumeRole operation: "
                "Roles may not be assumed by root accounts."
            )


def test_a_role_session_may_chain_into_another_role(
    server: Server, iam: Any, assumer: Any, admin_role: str
) -> None:
    """Chaining is subject to the target's trust policy and to the one-hour limit."""
    target = iam.create_role(
        RoleName="chain-target", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT)
    )
    first = assumer.assume_role(RoleArn=admin_role, RoleSessionName="hop1")["Credentials"]
    chained = session_client(server, "sts", first)
    second = chained.assume_role(
        RoleArn=target["Role"]["Arn"], RoleSessionName="hop2", DurationSeconds=3600
    )
    assert second["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/chain-target/hop2"
    )
    expires = second["Credentials"]["Expiration"] - datetime.now(UTC)
    assert timedelta(minutes=59) < expires <= timedelta(minutes=61)
    who = session_client(server, "sts", second["Credentials"]).get_caller_identity()
    assert who["Arn"] == second["AssumedRoleUser"]["Arn"]
    code, message, _ = failure(
        lambda: chained.assume_role(
            RoleArn=target["Role"]["Arn"], RoleSessionName="hop3", DurationSeconds=3601
        )
    )
    assert code == "ValidationError" and "role chaining" in message
    assumer_arn = iam.get_user(UserName="sts-assumer")["User"]["Arn"]
    only_assumer = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": assumer_arn}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName="chain-closed", AssumeRolePolicyDocument=json.dumps(only_assumer))
    code, message, _ = failure(
        lambda: chained.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/chain-closed", RoleSessionName="hop4"
        )
    )
    assert code == "AccessDenied"
    assert message.startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/registry-admin/hop1 is not authorized"
    )


def test_session_policy_narrows_the_role(server: Server, assumer: Any, admin_role: str) -> None:
    only_sts = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}],
    }
    assumed = assumer.assume_role(
        RoleArn=admin_role, RoleSessionName="narrow", Policy=json.dumps(only_sts)
    )
    assert "PackedPolicySize" in assumed
    narrowed = session_client(server, "iam", assumed["Credentials"])
    code, message, _ = failure(lambda: narrowed.get_role(RoleName="registry-admin"))
    assert code == "AccessDenied" and "session policy" in message


def test_session_ends_when_its_role_is_deleted(server: Server, iam: Any, assumer: Any) -> None:
    iam.create_role(RoleName="short-lived", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    arn = f"arn:aws:iam::{ACCOUNT}:role/short-lived"
    credentials = assumer.assume_role(RoleArn=arn, RoleSessionName="gone")["Credentials"]
    iam.delete_role(RoleName="short-lived")
    code, _, status = failure(
        lambda: session_client(server, "sts", credentials).get_caller_identity()
    )
    assert (code, status) == ("InvalidClientTokenId", 403)


# -- GetSessionToken -----------------------------------------------------------------------------


def test_get_session_token(server: Server, iam: Any) -> None:
    carol = user_with_key(iam, "sts-carol", ALLOW_ALL)
    sts = server.client("sts", carol["key"], carol["secret"])
    credentials = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    who = session_client(server, "sts", credentials).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/sts-carol"
    code, message, _ = failure(
        lambda: session_client(server, "sts", credentials).get_session_token()
    )
    assert (code, message) == (
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
    )
    code, _, _ = failure(lambda: sts.get_session_token(DurationSeconds=200000))
    assert code == "ValidationError"
    root = server.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    assert session_client(server, "sts", root).get_caller_identity()["Arn"].endswith(":root")


# -- credentials refused -------------------------------------------------------------------------


def test_expired_session_credentials_are_refused(
    server: Server, assumer: Any, admin_role: str
) -> None:
    credentials = assumer.assume_role(RoleArn=admin_role, RoleSessionName="expiring")["Credentials"]
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(sep=" ")
    with sqlite3.connect(server.data_dir / "berth.db") as db:
        db.execute(
            "UPDATE iam_sessions SET expires_at = ? WHERE access_key_id = ?",
            (past, credentials["AccessKeyId"]),
        )
    code, message, status = failure(
        lambda: session_client(server, "sts", credentials).get_caller_identity()
    )
    assert (code, status) == ("ExpiredToken", 403)
    assert message == "The security token included in the request is expired"


def test_wrong_or_missing_session_token_is_refused(
    server: Server, assumer: Any, admin_role: str
) -> None:
    credentials = assumer.assume_role(RoleArn=admin_role, RoleSessionName="tokens")["Credentials"]
    forged = {**credentials, "SessionToken": credentials["SessionToken"][:-4] + "AAAA"}
    code, _, _ = failure(lambda: session_client(server, "sts", forged).get_caller_identity())
    assert code == "InvalidClientTokenId"
    bare = server.client("sts", credentials["AccessKeyId"], credentials["SecretAccessKey"])
    code, _, _ = failure(bare.get_caller_identity)
    assert code == "InvalidClientTokenId"


def test_deactivated_and_deleted_keys_are_refused(server: Server, iam: Any) -> None:
    dave = user_with_key(iam, "sts-dave")
    sts = server.client("sts", dave["key"], dave["secret"])
    assert sts.get_caller_identity()["Arn"].endswith(":user/sts-dave")
    iam.update_access_key(UserName="sts-dave", AccessKeyId=dave["key"], Status="Inactive")
    code, message, status = failure(sts.get_caller_identity)
    assert (code, message, status) == (
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        403,
    )
    iam.update_access_key(UserName="sts-dave", AccessKeyId=dave["key"], Status="Active")
    assert sts.get_caller_identity()
    iam.delete_access_key(UserName="sts-dave", AccessKeyId=dave["key"])
    code, _, _ = failure(sts.get_caller_identity)
    assert code == "InvalidClientTokenId"
    ecr = server.client("ecr", dave["key"], dave["secret"])
    with pytest.raises(ClientError) as raised:
        ecr.describe_repositories()
    assert raised.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_wrong_signature_is_refused(server: Server) -> None:
    forged = server.client("sts", ROOT_KEY, ROOT_SECRET[:-1] + "X")
    code, message, status = failure(forged.get_caller_identity)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("The request signature we calculated does not match")
    unknown = server.client("sts", "AKIAUNKNOWNUNKNOWN00", ROOT_SECRET)
    code, _, _ = failure(unknown.get_caller_identity)
    assert code == "InvalidClientTokenId"


# -- the aws CLI ---------------------------------------------------------------------------------


def test_cli_profile_assumes_a_role(server: Server, iam: Any, admin_role: str) -> None:
    source = user_with_key(iam, "sts-cli", ALLOW_ASSUME)
    env = server.cli_env(
        {
            "default": {
                "aws_access_key_id": source["key"],
                "aws_secret_access_key": source["secret"],
            },
            "registry-admin": {"role_arn": admin_role, "source_profile": "default"},
        }
    )
    plain = server.aws_json(env, "sts", "get-caller-identity")
    assert plain["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/sts-cli"
    assumed = server.aws_json(env, "sts", "get-caller-identity", "--profile", "registry-admin")
    assert assumed["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/registry-admin/")
    role = server.aws_json(
        env, "iam", "get-role", "--role-name", "registry-admin", "--profile", "registry-admin"
    )
    assert role["Role"]["Arn"] == admin_role
    direct = server.aws_json(
        env, "sts", "assume-role", "--role-arn", admin_role, "--role-session-name", "cli-direct"
    )
    assert direct["AssumedRoleUser"]["Arn"].endswith("/registry-admin/cli-direct")


def test_cli_refuses_the_root_as_aws_does(server: Server, admin_role: str, tmp_path: Path) -> None:
    env = server.cli_env(
        {
            "default": {"aws_access_key_id": ROOT_KEY, "aws_secret_access_key": ROOT_SECRET},
            "as-root": {"role_arn": admin_role, "source_profile": "default"},
        }
    )
    env["HOME"] = str(tmp_path)  # no assumed-role credentials cached by an earlier test
    refusal = (
        "An error occurred (AccessDenied) when calling the AssumeRole operation: "
        "Roles may not be assumed by root accounts."
    )
    direct = server.aws(
        env, "sts", "assume-role", "--role-arn", admin_role, "--role-session-name", "cli-root"
    )
    assert direct.returncode != 0 and refusal in direct.stderr, direct.stderr
    profile = server.aws(env, "sts", "get-caller-identity", "--profile", "as-root")
    assert profile.returncode != 0 and refusal in profile.stderr, profile.stderr
