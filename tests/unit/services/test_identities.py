"""IdentityService.policies_for and access_key_active: what authorization is told about a caller."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from berth.errors import AccessDeniedError
from berth.iam import AuthorizationRequest, evaluate
from berth.meta.identities import OwnerKind
from berth.meta.sql import SqlMetaStore, open_meta_store
from berth.secrets import SecretBox
from berth.services.identities import IdentityService, PrincipalPolicies
from berth.types import Principal, PrincipalKind

ACCOUNT = "123456789012"
ROOT_KEY = "AKIAROOTROOTROOTROOT"
ECR = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}],
    }
)
PULL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"}],
    }
)
TRUST = json.dumps(
    {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ]
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, tzinfo=UTC)
        self.ticks = 0.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.ticks


@pytest.fixture
async def meta(tmp_path: Path) -> AsyncIterator[SqlMetaStore]:
    store = await open_meta_store(f"sqlite:///{tmp_path / 'berth.db'}", registry_id=ACCOUNT)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(meta: SqlMetaStore, clock: Clock) -> IdentityService:
    return IdentityService(
        meta,
        clock,
        account=ACCOUNT,
        box=SecretBox(bytes(32)),
        root_access_key_id=ROOT_KEY,
        monotonic=clock.monotonic,
    )


async def user_principal(service: IdentityService, name: str) -> Principal:
    user = await service.principals.create_user(name)
    key = await service.credentials.create_access_key(name)
    return Principal(PrincipalKind.USER, ACCOUNT, user.arn, user.id, name, access_key_id=key.key.id)


def allowed(view: PrincipalPolicies, principal: Principal, action: str) -> bool:
    request = AuthorizationRequest(
        principal=principal,
        action=action,
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/web",
        resource_account=ACCOUNT,
        identity_policies=view.identity_policies,
        permissions_boundary=view.permissions_boundary,
        session_policies=view.session_policies,
        role_arn=view.role_arn,
    )
    return evaluate(request).allowed


async def test_user_policies_include_inline_attached_and_group_policies(
    service: IdentityService,
) -> None:
    bob = await user_principal(service, "bob")
    await service.principals.create_group("devs")
    await service.principals.add_user_to_group("devs", "bob")
    await service.policies.put_inline(OwnerKind.GROUP, "devs", "pull", PULL)
    managed = await service.policies.create_policy("ecr-all", ECR)
    await service.policies.attach(OwnerKind.USER, "bob", managed.arn)
    await service.principals.tag_user("bob", [("team", "web")])
    found = await service.policies_for(bob)
    assert found.active
    assert sorted(p.name for p in found.identity_policies) == sorted(["pull", managed.arn])
    assert found.principal_tags == {"team": "web"}
    assert allowed(found, bob, "ecr:PutImage")


async def test_cache_holds_for_the_ttl_and_writes_drop_it(
    service: IdentityService, clock: Clock
) -> None:
    bob = await user_principal(service, "bob")
    assert (await service.policies_for(bob)).identity_policies == ()
    first = await service.policies_for(bob)
    assert await service.policies_for(bob) is first
    await service.policies.put_inline(OwnerKind.USER, "bob", "pull", PULL)
    assert [p.name for p in (await service.policies_for(bob)).identity_policies] == ["pull"]
    cached = await service.policies_for(bob)
    clock.ticks += 3
    assert await service.policies_for(bob) is not cached


async def test_boundary_limits_and_a_missing_boundary_allows_nothing(
    service: IdentityService,
) -> None:
    bob = await user_principal(service, "bob")
    await service.policies.put_inline(OwnerKind.USER, "bob", "all", ECR)
    boundary = await service.policies.create_policy("pull-only", PULL)
    await service.policies.put_boundary(OwnerKind.USER, "bob", boundary.arn)
    found = await service.policies_for(bob)
    assert allowed(found, bob, "ecr:BatchGetImage")
    assert not allowed(found, bob, "ecr:PutImage")


async def test_deleted_or_inactive_keys_and_users_are_inactive(service: IdentityService) -> None:
    bob = await user_principal(service, "bob")
    assert await service.access_key_active(bob.access_key_id)
    await service.credentials.update_access_key("bob", bob.access_key_id, "Inactive")
    assert not (await service.policies_for(bob)).active
    assert not await service.access_key_active(bob.access_key_id)
    await service.credentials.delete_access_key("bob", bob.access_key_id)
    await service.principals.delete_user("bob")
    assert not (await service.policies_for(bob)).active
    assert not await service.access_key_active("AKIANOSUCHKEY0000000")
    assert await service.access_key_active(ROOT_KEY)
    root = Principal.root(ACCOUNT, ROOT_KEY)
    assert (await service.policies_for(root)).active


async def test_role_session_carries_role_policies_and_session_policy(
    service: IdentityService, clock: Clock
) -> None:
    role = await service.principals.create_role("admin", TRUST)
    await service.policies.put_inline(OwnerKind.ROLE, "admin", "all", ECR)
    ci = await user_principal(service, "ci")
    assumed = await service.sts.assume_role(ci, role.arn, "ci", policy=PULL)
    key = assumed.credentials.access_key_id
    session = Principal(
        PrincipalKind.ASSUMED_ROLE,
        ACCOUNT,
        assumed.arn,
        assumed.assumed_role_id,
        "admin",
        "ci",
        key,
    )
    found = await service.policies_for(session)
    assert found.active and found.role_arn == role.arn
    assert [p.name for p in found.identity_policies] == ["all"]
    assert len(found.session_policies) == 1
    assert allowed(found, session, "ecr:BatchGetImage")
    assert not allowed(found, session, "ecr:PutImage")
    assert await service.access_key_active(key)
    clock.now += timedelta(hours=2)
    clock.ticks += 10
    assert not await service.access_key_active(key)
    assert not (await service.policies_for(session)).active


async def test_the_root_may_not_assume_a_role(service: IdentityService) -> None:
    role = await service.principals.create_role("admin", TRUST)
    root = Principal.root(ACCOUNT, ROOT_KEY)
    with pytest.raises(AccessDeniedError) as refused:
        await service.sts.assume_role(root, role.arn, "ci")
    assert refused.value.message == "Roles may not be assumed by root accounts."


async def test_key_use_is_recorded_at_most_once_a_minute(
    service: IdentityService, clock: Clock
) -> None:
    bob = await user_principal(service, "bob")
    await service.record_key_use(bob.access_key_id, "ecr", "us-east-1")
    clock.now += timedelta(seconds=30)
    await service.record_key_use(bob.access_key_id, "iam", "eu-west-1")
    use = await service.credentials.key_last_used(bob.access_key_id)
    assert use.key is not None and use.key.last_used_service == "ecr"
    clock.now += timedelta(seconds=31)
    await service.record_key_use(bob.access_key_id, "iam", "eu-west-1")
    use = await service.credentials.key_last_used(bob.access_key_id)
    assert use.key is not None and (use.key.last_used_service, use.key.last_used_at) == (
        "iam",
        clock.now,
    )
