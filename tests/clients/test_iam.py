"""The IAM API driven by boto3 and the aws CLI against a real ``berth serve``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from seed import consumer_policy_json

from .iam_server import ACCOUNT, ROOT_KEY, ROOT_SECRET, Server, root_profiles, running_server

pytestmark = pytest.mark.clients

ALLOW_ECR = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}],
}
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("iam")) as running:
        yield running


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    return server.client("iam")


def doc(value: dict[str, Any]) -> str:
    return json.dumps(value)


def failure(call: Callable[[], object]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return (
        error["Error"]["Code"],
        error["Error"]["Message"],
        error["ResponseMetadata"]["HTTPStatusCode"],
    )


# -- users ---------------------------------------------------------------------------------------


def test_user_lifecycle(iam: Any) -> None:
    created = iam.create_user(UserName="ulife", Path="/ops/", Tags=[{"Key": "team", "Value": "a"}])
    user = created["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/ulife"
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    assert user["Path"] == "/ops/"
    got = iam.get_user(UserName="ULIFE")["User"]
    assert (got["UserName"], got["Tags"]) == ("ulife", [{"Key": "team", "Value": "a"}])
    names = [u["UserName"] for u in iam.list_users(PathPrefix="/ops/")["Users"]]
    assert names == ["ulife"]
    iam.update_user(UserName="ulife", NewUserName="ulife2", NewPath="/dev/")
    renamed = iam.get_user(UserName="ulife2")["User"]
    assert renamed["Arn"].endswith(":user/dev/ulife2") and renamed["UserId"] == user["UserId"]
    iam.delete_user(UserName="ulife2")
    code, message, status = failure(lambda: iam.get_user(UserName="ulife2"))
    assert (code, status) == ("NoSuchEntity", 404)
    assert message == "The user with name ulife2 cannot be found."


def test_user_errors(iam: Any) -> None:
    iam.create_user(UserName="udup")
    code, message, status = failure(lambda: iam.create_user(UserName="UDUP"))
    assert (code, message, status) == (
        "EntityAlreadyExists",
        "User with name UDUP already exists.",
        409,
    )
    code, message, status = failure(lambda: iam.create_user(UserName="bad name"))
    assert (code, status) == ("ValidationError", 400)
    assert "at 'userName' failed to satisfy constraint" in message
    code, _, _ = failure(lambda: iam.create_user(UserName="upath", Path="no-slash"))
    assert code == "ValidationError"
    code, _, _ = failure(lambda: iam.delete_user(UserName="nobody"))
    assert code == "NoSuchEntity"


def test_list_users_pages_with_marker(iam: Any) -> None:
    for name in ("page-a", "page-b", "page-c"):
        iam.create_user(UserName=name, Path="/paging/")
    first = iam.list_users(PathPrefix="/paging/", MaxItems=2)
    assert [u["UserName"] for u in first["Users"]] == ["page-a", "page-b"]
    assert first["IsTruncated"] is True
    rest = iam.list_users(PathPrefix="/paging/", MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == ["page-c"]
    assert rest["IsTruncated"] is False
    paginated = iam.get_paginator("list_users").paginate(
        PathPrefix="/paging/", PaginationConfig={"PageSize": 1}
    )
    assert [u["UserName"] for page in paginated for u in page["Users"]] == [
        "page-a",
        "page-b",
        "page-c",
    ]


def test_user_tags(iam: Any) -> None:
    iam.create_user(UserName="utags")
    iam.tag_user(UserName="utags", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.tag_user(UserName="utags", Tags=[{"Key": "a", "Value": "3"}])
    assert iam.list_user_tags(UserName="utags")["Tags"] == [
        {"Key": "a", "Value": "3"},
        {"Key": "b", "Value": "2"},
    ]
    iam.untag_user(UserName="utags", TagKeys=["a"])
    assert iam.list_user_tags(UserName="utags")["Tags"] == [{"Key": "b", "Value": "2"}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    code, message, _ = failure(lambda: iam.tag_user(UserName="utags", Tags=many))
    assert code == "InvalidInput" and "maximum limit of 50" in message


def test_delete_user_refuses_while_it_has_dependents(iam: Any) -> None:
    iam.create_user(UserName="udeps")
    iam.create_group(GroupName="gdeps")
    key = iam.create_access_key(UserName="udeps")["AccessKey"]
    iam.create_login_profile(UserName="udeps", Password="Sup3r-secret")
    iam.add_user_to_group(GroupName="gdeps", UserName="udeps")
    iam.put_user_policy(UserName="udeps", PolicyName="p", PolicyDocument=doc(ALLOW_ECR))
    steps = [
        (
            "access keys",
            lambda: iam.delete_access_key(UserName="udeps", AccessKeyId=key["AccessKeyId"]),
        ),
        ("login profile", lambda: iam.delete_login_profile(UserName="udeps")),
        ("group", lambda: iam.remove_user_from_group(GroupName="gdeps", UserName="udeps")),
        ("policies", lambda: iam.delete_user_policy(UserName="udeps", PolicyName="p")),
    ]
    for words, remove in steps:
        code, message, status = failure(lambda: iam.delete_user(UserName="udeps"))
        assert (code, status) == ("DeleteConflict", 409)
        assert words.split()[0] in message
        remove()
    iam.delete_user(UserName="udeps")


# -- groups --------------------------------------------------------------------------------------


def test_groups_and_membership(iam: Any) -> None:
    iam.create_user(UserName="gmember")
    group = iam.create_group(GroupName="gteam", Path="/teams/")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/teams/gteam"
    assert group["GroupId"].startswith("AGPA")
    iam.add_user_to_group(GroupName="gteam", UserName="gmember")
    got = iam.get_group(GroupName="gteam")
    assert [u["UserName"] for u in got["Users"]] == ["gmember"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="gmember")["Groups"]] == [
        "gteam"
    ]
    assert "gteam" in [g["GroupName"] for g in iam.list_groups()["Groups"]]
    code, _, _ = failure(lambda: iam.delete_group(GroupName="gteam"))
    assert code == "DeleteConflict"
    iam.remove_user_from_group(GroupName="gteam", UserName="gmember")
    code, _, _ = failure(lambda: iam.remove_user_from_group(GroupName="gteam", UserName="gmember"))
    assert code == "NoSuchEntity"
    code, _, _ = failure(lambda: iam.create_group(GroupName="GTEAM"))
    assert code == "EntityAlreadyExists"
    iam.delete_group(GroupName="gteam")
    code, message, _ = failure(lambda: iam.get_group(GroupName="gteam"))
    assert (code, message) == ("NoSuchEntity", "The group with name gteam cannot be found.")


# -- roles ---------------------------------------------------------------------------------------


def test_role_lifecycle(iam: Any) -> None:
    role = iam.create_role(
        RoleName="rlife",
        AssumeRolePolicyDocument=doc(TRUST_ACCOUNT),
        Description="ci",
        MaxSessionDuration=7200,
        Tags=[{"Key": "env", "Value": "prod"}],
    )["Role"]
    assert role["RoleId"].startswith("AROA")
    assert role["AssumeRolePolicyDocument"] == TRUST_ACCOUNT
    got = iam.get_role(RoleName="rlife")["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("ci", 7200)
    iam.update_role(RoleName="rlife", Description="builds", MaxSessionDuration=3600)
    assert iam.get_role(RoleName="rlife")["Role"]["Description"] == "builds"
    narrower = {**TRUST_ACCOUNT, "Statement": [{**TRUST_ACCOUNT["Statement"][0], "Sid": "Only"}]}
    iam.update_assume_role_policy(RoleName="rlife", PolicyDocument=doc(narrower))
    assert iam.get_role(RoleName="rlife")["Role"]["AssumeRolePolicyDocument"] == narrower
    iam.tag_role(RoleName="rlife", Tags=[{"Key": "team", "Value": "x"}])
    iam.untag_role(RoleName="rlife", TagKeys=["env"])
    assert iam.list_role_tags(RoleName="rlife")["Tags"] == [{"Key": "team", "Value": "x"}]
    assert "rlife" in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    code, _, _ = failure(lambda: iam.update_role(RoleName="rlife", MaxSessionDuration=50000))
    assert code == "ValidationError"
    iam.delete_role(RoleName="rlife")
    code, message, _ = failure(lambda: iam.get_role(RoleName="rlife"))
    assert (code, message) == ("NoSuchEntity", "The role with name rlife cannot be found.")


def test_role_trust_policy_errors(iam: Any) -> None:
    code, message, _ = failure(
        lambda: iam.create_role(RoleName="rbad", AssumeRolePolicyDocument='{"Statement": [')
    )
    assert code == "MalformedPolicyDocument" and message.startswith("Syntax errors in policy.")
    with_resource = {
        "Statement": [{**TRUST_ACCOUNT["Statement"][0], "Resource": "*"}],
    }
    code, message, _ = failure(
        lambda: iam.create_role(RoleName="rbad", AssumeRolePolicyDocument=doc(with_resource))
    )
    assert code == "MalformedPolicyDocument" and message.startswith("Has prohibited field Resource")
    big = {"Statement": [{**TRUST_ACCOUNT["Statement"][0], "Sid": "x" * 2100}]}
    code, message, status = failure(
        lambda: iam.create_role(RoleName="rbad", AssumeRolePolicyDocument=doc(big))
    )
    assert (code, message, status) == (
        "LimitExceeded",
        "Cannot exceed quota for ACLSizePerRole: 2048",
        409,
    )
    code, _, _ = failure(
        lambda: iam.create_role(
            RoleName="rbad", AssumeRolePolicyDocument=doc(TRUST_ACCOUNT), Path="x"
        )
    )
    assert code == "ValidationError"


# -- access keys and login profiles --------------------------------------------------------------


def test_access_keys(server: Server, iam: Any) -> None:
    iam.create_user(UserName="ukeys")
    first = iam.create_access_key(UserName="ukeys")["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA") and len(first["AccessKeyId"]) == 20
    assert len(first["SecretAccessKey"]) == 40 and first["Status"] == "Active"
    second = iam.create_access_key(UserName="ukeys")["AccessKey"]
    code, message, status = failure(lambda: iam.create_access_key(UserName="ukeys"))
    assert (code, message, status) == (
        "LimitExceeded",
        "Cannot exceed quota for AccessKeysPerUser: 2",
        409,
    )
    listed = iam.list_access_keys(UserName="ukeys")["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {first["AccessKeyId"], second["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)
    unused = iam.get_access_key_last_used(AccessKeyId=first["AccessKeyId"])
    assert unused["UserName"] == "ukeys"
    assert unused["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    own = server.client("iam", first["AccessKeyId"], first["SecretAccessKey"], region="eu-west-1")
    failure(own.list_users)  # signed and refused: still a use of the key
    used = iam.get_access_key_last_used(AccessKeyId=first["AccessKeyId"])["AccessKeyLastUsed"]
    assert (used["ServiceName"], used["Region"]) == ("iam", "eu-west-1")
    assert "LastUsedDate" in used
    iam.update_access_key(UserName="ukeys", AccessKeyId=second["AccessKeyId"], Status="Inactive")
    statuses = {
        k["AccessKeyId"]: k["Status"]
        for k in iam.list_access_keys(UserName="ukeys")["AccessKeyMetadata"]
    }
    assert statuses[second["AccessKeyId"]] == "Inactive"
    code, _, _ = failure(
        lambda: iam.update_access_key(
            UserName="ukeys", AccessKeyId="AKIANOTAKEY000000000", Status="Active"
        )
    )
    assert code == "NoSuchEntity"
    code, _, _ = failure(
        lambda: iam.update_access_key(
            UserName="ukeys", AccessKeyId=first["AccessKeyId"], Status="Paused"
        )
    )
    assert code == "ValidationError"
    iam.delete_access_key(UserName="ukeys", AccessKeyId=first["AccessKeyId"])
    code, message, _ = failure(
        lambda: iam.delete_access_key(UserName="ukeys", AccessKeyId=first["AccessKeyId"])
    )
    assert (code, message) == (
        "NoSuchEntity",
        f"The Access Key with id {first['AccessKeyId']} cannot be found.",
    )


def test_secret_keys_are_not_stored_in_clear(server: Server, iam: Any) -> None:
    iam.create_user(UserName="uclear")
    secret = iam.create_access_key(UserName="uclear")["AccessKey"]["SecretAccessKey"]
    stored = b"".join(p.read_bytes() for p in server.data_dir.glob("berth.db*"))
    assert secret.encode() not in stored
    assert (server.data_dir / "master.key").stat().st_mode & 0o777 == 0o600


def test_login_profiles(server: Server, iam: Any) -> None:
    iam.create_user(UserName="ulogin")
    code, _, status = failure(
        lambda: iam.create_login_profile(UserName="ulogin", Password="weakpassword")
    )
    assert (code, status) == ("PasswordPolicyViolation", 400)
    profile = iam.create_login_profile(
        UserName="ulogin", Password="Str0ng-password", PasswordResetRequired=True
    )["LoginProfile"]
    assert (profile["UserName"], profile["PasswordResetRequired"]) == ("ulogin", True)
    code, message, _ = failure(
        lambda: iam.create_login_profile(UserName="ulogin", Password="Str0ng-password")
    )
    assert (code, message) == (
        "EntityAlreadyExists",
        "Login Profile for user ulogin already exists.",
    )
    iam.update_login_profile(
        UserName="ulogin", Password="An0ther-password", PasswordResetRequired=False
    )
    assert (
        iam.get_login_profile(UserName="ulogin")["LoginProfile"]["PasswordResetRequired"] is False
    )
    stored = b"".join(p.read_bytes() for p in server.data_dir.glob("berth.db*"))
    assert b"An0ther-password" not in stored and b"scrypt$" in stored
    iam.delete_login_profile(UserName="ulogin")
    code, message, _ = failure(lambda: iam.get_login_profile(UserName="ulogin"))
    assert (code, message) == ("NoSuchEntity", "Login Profile for User ulogin cannot be found.")


# -- managed policies ----------------------------------------------------------------------------


def test_managed_policy_versions(iam: Any) -> None:
    policy = iam.create_policy(
        PolicyName="mversions", PolicyDocument=doc(ALLOW_ECR), Path="/team/", Description="d"
    )["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/team/mversions"
    assert (policy["DefaultVersionId"], policy["AttachmentCount"]) == ("v1", 0)
    assert policy["PolicyId"].startswith("ANPA")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "d"
    second = iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=doc(ALLOW_ECR), SetAsDefault=True
    )
    assert second["PolicyVersion"]["VersionId"] == "v2"
    assert second["PolicyVersion"]["IsDefaultVersion"] is True
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(ALLOW_ECR))
    code, message, status = failure(
        lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(ALLOW_ECR))
    )
    assert (code, status) == ("LimitExceeded", 409)
    assert message.startswith("A managed policy can have up to 5 versions.")
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert got["Document"] == ALLOW_ECR and got["IsDefaultVersion"] is False
    code, message, _ = failure(lambda: iam.delete_policy_version(PolicyArn=arn, VersionId="v2"))
    assert (code, message) == ("DeleteConflict", "Cannot delete the default version of a policy.")
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v5"
    code, _, _ = failure(lambda: iam.delete_policy(PolicyArn=arn))
    assert code == "DeleteConflict"
    for version in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(ALLOW_ECR))
    assert iam.list_policy_versions(PolicyArn=arn)["Versions"][0]["VersionId"] == "v6"
    iam.delete_policy_version(PolicyArn=arn, VersionId="v6")
    code, _, _ = failure(lambda: iam.get_policy_version(PolicyArn=arn, VersionId="v9"))
    assert code == "NoSuchEntity"
    iam.delete_policy(PolicyArn=arn)
    code, _, _ = failure(lambda: iam.get_policy(PolicyArn=arn))
    assert code == "NoSuchEntity"


def test_list_policies_local_scope(iam: Any) -> None:
    iam.create_policy(PolicyName="mlist", PolicyDocument=doc(ALLOW_ECR), Path="/listing/")
    local = iam.list_policies(Scope="Local", PathPrefix="/listing/")["Policies"]
    assert [p["PolicyName"] for p in local] == ["mlist"]
    assert iam.list_policies(Scope="AWS")["Policies"] == []
    assert (
        iam.list_policies(Scope="Local", PathPrefix="/listing/", OnlyAttached=True)["Policies"]
        == []
    )
    code, _, _ = failure(lambda: iam.list_policies(Scope="Nobody"))
    assert code == "ValidationError"


def test_policy_documents_refused_with_aws_messages(iam: Any) -> None:
    code, message, _ = failure(lambda: iam.create_policy(PolicyName="mbad", PolicyDocument="{"))
    assert code == "MalformedPolicyDocument" and message.startswith("Syntax errors in policy.")
    no_resource = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*"}]}
    code, message, _ = failure(
        lambda: iam.create_policy(PolicyName="mbad", PolicyDocument=doc(no_resource))
    )
    assert message.startswith("Policy statement must contain resources.")
    bad_effect = {"Statement": [{"Effect": "Maybe", "Action": "ecr:*", "Resource": "*"}]}
    code, message, _ = failure(
        lambda: iam.put_user_policy(UserName="udup", PolicyName="x", PolicyDocument=doc(bad_effect))
    )
    assert (code, message.split(" (")[0]) == ("MalformedPolicyDocument", "Invalid effect: Maybe")
    actions = [f"ecr:Action{i:04d}" for i in range(400)]
    big = {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    code, message, status = failure(
        lambda: iam.create_policy(PolicyName="mbig", PolicyDocument=doc(big))
    )
    assert (code, message, status) == (
        "LimitExceeded",
        "Cannot exceed quota for PolicySize: 6144",
        409,
    )
    medium = {"Statement": [{"Effect": "Allow", "Action": actions[:120], "Resource": "*"}]}
    code, message, _ = failure(
        lambda: iam.put_user_policy(UserName="udup", PolicyName="x", PolicyDocument=doc(medium))
    )
    assert (code, message) == (
        "LimitExceeded",
        "Maximum policy size of 2048 bytes exceeded for user udup",
    )


def test_seed_consumer_policy_is_accepted_exactly_as_generated(iam: Any) -> None:
    text = consumer_policy_json()
    iam.create_user(UserName="consumer")
    iam.put_user_policy(
        UserName="consumer", PolicyName="DockerRegistryConsumerPolicy", PolicyDocument=text
    )
    got = iam.get_user_policy(UserName="consumer", PolicyName="DockerRegistryConsumerPolicy")
    assert got["PolicyDocument"] == json.loads(text)
    created = iam.create_policy(PolicyName="DockerRegistryConsumerPolicy", PolicyDocument=text)
    version = iam.get_policy_version(PolicyArn=created["Policy"]["Arn"], VersionId="v1")
    assert version["PolicyVersion"]["Document"] == json.loads(text)


# -- attachments, inline policies, boundaries ----------------------------------------------------


@pytest.mark.parametrize("kind", ["User", "Group", "Role"])
def test_attach_detach_and_list(iam: Any, kind: str) -> None:
    owner = f"att{kind.lower()}"
    create = {
        "User": lambda: iam.create_user(UserName=owner),
        "Group": lambda: iam.create_group(GroupName=owner),
        "Role": lambda: iam.create_role(
            RoleName=owner, AssumeRolePolicyDocument=doc(TRUST_ACCOUNT)
        ),
    }
    create[kind]()
    name = {f"{kind}Name": owner}
    arn = iam.create_policy(PolicyName=f"attach-{kind}", PolicyDocument=doc(ALLOW_ECR))["Policy"][
        "Arn"
    ]
    snake = kind.lower()
    getattr(iam, f"attach_{snake}_policy")(PolicyArn=arn, **name)
    attached = getattr(iam, f"list_attached_{snake}_policies")(**name)["AttachedPolicies"]
    assert attached == [{"PolicyName": f"attach-{kind}", "PolicyArn": arn}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    code, message, _ = failure(lambda: iam.delete_policy(PolicyArn=arn))
    assert (code, message) == ("DeleteConflict", "Cannot delete a policy attached to entities.")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/none"
    code, message, _ = failure(
        lambda: getattr(iam, f"attach_{snake}_policy")(PolicyArn=missing, **name)
    )
    assert (code, message) == (
        "NoSuchEntity",
        f"Policy {missing} does not exist or is not attachable.",
    )
    getattr(iam, f"detach_{snake}_policy")(PolicyArn=arn, **name)
    code, _, _ = failure(lambda: getattr(iam, f"detach_{snake}_policy")(PolicyArn=arn, **name))
    assert code == "NoSuchEntity"
    assert getattr(iam, f"list_attached_{snake}_policies")(**name)["AttachedPolicies"] == []
    code, _, _ = failure(
        lambda: getattr(iam, f"attach_{snake}_policy")(PolicyArn=arn, **{f"{kind}Name": "ghost"})
    )
    assert code == "NoSuchEntity"


@pytest.mark.parametrize("kind", ["User", "Group", "Role"])
def test_inline_policies(iam: Any, kind: str) -> None:
    owner = f"inl{kind.lower()}"
    if kind == "User":
        iam.create_user(UserName=owner)
    elif kind == "Group":
        iam.create_group(GroupName=owner)
    else:
        iam.create_role(RoleName=owner, AssumeRolePolicyDocument=doc(TRUST_ACCOUNT))
    name = {f"{kind}Name": owner}
    snake = kind.lower()
    getattr(iam, f"put_{snake}_policy")(PolicyName="pull", PolicyDocument=doc(ALLOW_ECR), **name)
    getattr(iam, f"put_{snake}_policy")(PolicyName="audit", PolicyDocument=doc(ALLOW_ECR), **name)
    got = getattr(iam, f"get_{snake}_policy")(PolicyName="pull", **name)
    assert (got[f"{kind}Name"], got["PolicyName"], got["PolicyDocument"]) == (
        owner,
        "pull",
        ALLOW_ECR,
    )
    assert getattr(iam, f"list_{snake}_policies")(**name)["PolicyNames"] == ["audit", "pull"]
    getattr(iam, f"delete_{snake}_policy")(PolicyName="pull", **name)
    code, message, _ = failure(
        lambda: getattr(iam, f"get_{snake}_policy")(PolicyName="pull", **name)
    )
    assert (code, message) == (
        "NoSuchEntity",
        f"The {snake} policy with name pull cannot be found.",
    )


def test_permissions_boundaries(iam: Any) -> None:
    arn = iam.create_policy(PolicyName="boundary", PolicyDocument=doc(ALLOW_ECR))["Policy"]["Arn"]
    iam.create_user(UserName="ubound")
    iam.create_role(RoleName="rbound", AssumeRolePolicyDocument=doc(TRUST_ACCOUNT))
    iam.put_user_permissions_boundary(UserName="ubound", PermissionsBoundary=arn)
    iam.put_role_permissions_boundary(RoleName="rbound", PermissionsBoundary=arn)
    boundary = iam.get_user(UserName="ubound")["User"]["PermissionsBoundary"]
    assert boundary == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": arn,
    }
    assert (
        iam.get_role(RoleName="rbound")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
        == arn
    )
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 2
    code, _, _ = failure(lambda: iam.delete_policy(PolicyArn=arn))
    assert code == "DeleteConflict"
    iam.delete_user_permissions_boundary(UserName="ubound")
    iam.delete_role_permissions_boundary(RoleName="rbound")
    assert "PermissionsBoundary" not in iam.get_user(UserName="ubound")["User"]
    missing = f"arn:aws:iam::{ACCOUNT}:policy/ghost"
    code, _, _ = failure(
        lambda: iam.put_user_permissions_boundary(UserName="ubound", PermissionsBoundary=missing)
    )
    assert code == "NoSuchEntity"


def test_role_with_policies_cannot_be_deleted(iam: Any) -> None:
    iam.create_role(RoleName="rdeps", AssumeRolePolicyDocument=doc(TRUST_ACCOUNT))
    iam.put_role_policy(RoleName="rdeps", PolicyName="p", PolicyDocument=doc(ALLOW_ECR))
    code, message, _ = failure(lambda: iam.delete_role(RoleName="rdeps"))
    assert (code, message) == (
        "DeleteConflict",
        "Cannot delete entity, must delete policies first.",
    )
    iam.delete_role_policy(RoleName="rdeps", PolicyName="p")
    iam.delete_role(RoleName="rdeps")


# -- account, simulation, errors -----------------------------------------------------------------


def test_account_summary(iam: Any) -> None:
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] >= 1
    assert summary["AccessKeysPerUserQuota"] == 2
    assert summary["PolicySizeQuota"] == 6144


def test_simulate_custom_policy(iam: Any) -> None:
    deny_prod = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
            {
                "Sid": "NoProd",
                "Effect": "Deny",
                "Action": "ecr:PutImage",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestTag/env": "prod"}},
            },
        ],
    }
    results = iam.simulate_custom_policy(
        PolicyInputList=[doc(deny_prod)],
        ActionNames=["ecr:PutImage", "s3:GetObject"],
        ResourceArns=[f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/web"],
        ContextEntries=[
            {
                "ContextKeyName": "aws:RequestTag/env",
                "ContextKeyValues": ["prod"],
                "ContextKeyType": "string",
            }
        ],
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in results}
    assert decisions == {"ecr:PutImage": "explicitDeny", "s3:GetObject": "implicitDeny"}
    put = next(r for r in results if r["EvalActionName"] == "ecr:PutImage")
    assert put["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    allowed = iam.simulate_custom_policy(
        PolicyInputList=[doc(deny_prod)], ActionNames=["ecr:PutImage"]
    )
    assert allowed["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_simulate_principal_policy(iam: Any) -> None:
    iam.create_user(UserName="usim")
    iam.create_group(GroupName="gsim")
    iam.add_user_to_group(GroupName="gsim", UserName="usim")
    iam.put_group_policy(GroupName="gsim", PolicyName="ecr", PolicyDocument=doc(ALLOW_ECR))
    arn = iam.get_user(UserName="usim")["User"]["Arn"]
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["ecr:BatchGetImage", "iam:CreateUser"]
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "implicitDeny"]
    assert (
        results[0]["MatchedStatements"] == [{"SourcePolicyId": "ecr", "SourcePolicyType": "group"}]
        or results[0]["MatchedStatements"][0]["SourcePolicyType"] == "group"
    )
    code, _, _ = failure(
        lambda: iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/ghost", ActionNames=["ecr:ListImages"]
        )
    )
    assert code == "NoSuchEntity"


def test_user_without_permission_is_refused_and_with_one_allowed(server: Server, iam: Any) -> None:
    iam.create_user(UserName="uperm")
    key = iam.create_access_key(UserName="uperm")["AccessKey"]
    own = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    code, message, status = failure(own.list_users)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/uperm is not authorized to perform: iam:ListUsers"
    )
    allow_list = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="uperm", PolicyName="list", PolicyDocument=doc(allow_list))
    assert own.list_users()["Users"]
    code, _, _ = failure(own.get_user)
    assert code == "AccessDenied"


def test_unknown_action_and_unsigned_requests(server: Server) -> None:
    unsigned = httpx.post(server.url, data={"Action": "ListUsers", "Version": "2010-05-08"})
    assert unsigned.status_code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in unsigned.text
    assert unsigned.text.startswith(
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
    )
    answer = signed_post(server, "iam", {"Action": "Frobnicate", "Version": "2010-05-08"})
    assert answer.status_code == 400
    assert "<Code>InvalidAction</Code>" in answer.text
    assert "Could not find operation Frobnicate for version 2010-05-08" in answer.text
    assert "<Type>Sender</Type>" in answer.text


def signed_post(server: Server, service: str, form: dict[str, str]) -> httpx.Response:
    body = urlencode(form)
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(ROOT_KEY, ROOT_SECRET), service, "us-east-1").add_auth(request)
    return httpx.post(server.url + "/", content=body, headers=dict(request.headers.items()))


def test_wrong_secret_is_signature_does_not_match(server: Server) -> None:
    forged = server.client("iam", secret="not-the-secret")
    code, message, status = failure(forged.list_users)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("The request signature we calculated does not match")


# -- the aws CLI ---------------------------------------------------------------------------------


def test_cli_manages_users_policies_and_keys(server: Server, tmp_path: Path) -> None:
    env = server.cli_env(root_profiles())
    created = server.aws_json(env, "iam", "create-user", "--user-name", "cli-user")
    assert created["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/cli-user"
    document = tmp_path / "consumer.json"
    document.write_text(consumer_policy_json())
    server.aws_json(
        env,
        "iam",
        "put-user-policy",
        "--user-name",
        "cli-user",
        "--policy-name",
        "DockerRegistryConsumerPolicy",
        "--policy-document",
        f"file://{document}",
    )
    got = server.aws_json(
        env,
        "iam",
        "get-user-policy",
        "--user-name",
        "cli-user",
        "--policy-name",
        "DockerRegistryConsumerPolicy",
    )
    assert got["PolicyDocument"]["Statement"][0]["Resource"] == ["*"]
    key = server.aws_json(env, "iam", "create-access-key", "--user-name", "cli-user")["AccessKey"]
    listed = server.aws_json(env, "iam", "list-access-keys", "--user-name", "cli-user")
    assert [k["AccessKeyId"] for k in listed["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    users = server.aws_json(env, "iam", "list-users")["Users"]
    assert "cli-user" in [u["UserName"] for u in users]
    refused = server.aws(env, "iam", "get-user", "--user-name", "cli-ghost")
    assert refused.returncode != 0 and "NoSuchEntity" in refused.stderr


def test_a_key_stops_signing_the_moment_it_is_deactivated_or_its_user_goes(
    server: Server, iam: Any
) -> None:
    """What a key resolves to is cached; a write to the key or the user drops it at once."""
    iam.create_user(UserName="ucached")
    key = iam.create_access_key(UserName="ucached")["AccessKey"]
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    for _ in range(3):
        assert sts.get_caller_identity()["Arn"].endswith(":user/ucached")
    iam.update_access_key(UserName="ucached", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert failure(sts.get_caller_identity)[0] == "InvalidClientTokenId"
    iam.update_access_key(UserName="ucached", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert sts.get_caller_identity()["Arn"].endswith(":user/ucached")
    iam.delete_access_key(UserName="ucached", AccessKeyId=key["AccessKeyId"])
    assert failure(sts.get_caller_identity)[0] == "InvalidClientTokenId"
    iam.delete_user(UserName="ucached")
