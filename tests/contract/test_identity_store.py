"""The IdentityStore contract: one suite, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from berth.errors import EntityAlreadyExistsError
from berth.meta.base import MetaStore
from berth.meta.identities import (
    AccessKey,
    Group,
    InlinePolicy,
    LoginProfile,
    ManagedPolicy,
    OwnerKind,
    PolicyVersion,
    Role,
    StsSession,
    User,
)
from berth.meta.sql import open_meta_store

ACCOUNT = "123456789012"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
DOC = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}'
TRUST = '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:*"}]}'


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def meta_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetaStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'berth.db'}"
    else:
        url = request.getfixturevalue("postgresql_url")
    store = await open_meta_store(url, registry_id=ACCOUNT)
    try:
        yield store
    finally:
        await store.close()


def user(name: str, path: str = "/", **fields: object) -> User:
    values: dict[str, object] = {
        "id": f"AIDA{name.upper():0<17}"[:21],
        "name": name,
        "path": path,
        "arn": f"arn:aws:iam::{ACCOUNT}:user{path}{name}",
        "created_at": T0,
    }
    values.update(fields)
    return User(**values)  # type: ignore[arg-type]


def group(name: str) -> Group:
    return Group(f"AGPA{name.upper():0<17}"[:21], name, "/", f"arn:group/{name}", T0)


def role(name: str, **fields: object) -> Role:
    values: dict[str, object] = {
        "id": f"AROA{name.upper():0<17}"[:21],
        "name": name,
        "path": "/",
        "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "created_at": T0,
        "trust_policy": TRUST,
    }
    values.update(fields)
    return Role(**values)  # type: ignore[arg-type]


def policy(name: str, path: str = "/") -> ManagedPolicy:
    return ManagedPolicy(
        id=f"ANPA{name.upper():0<17}"[:21],
        name=name,
        path=path,
        arn=f"arn:aws:iam::{ACCOUNT}:policy{path}{name}",
        created_at=T0,
        updated_at=T0,
    )


# -- users, groups, roles -----------------------------------------------------------------------


async def test_user_create_get_without_case_and_duplicate(meta_store: MetaStore) -> None:
    bob = user("Bob", tags=(("team", "web"),), permissions_boundary="arn:boundary")
    async with meta_store.transaction() as tx:
        assert await tx.identities.users.create(bob) == bob
    async with meta_store.read() as tx:
        assert await tx.identities.users.get("bob") == bob
        assert await tx.identities.users.get_by_id(bob.id) == bob
        assert await tx.identities.users.get("alice") is None
    with pytest.raises(EntityAlreadyExistsError, match=r"User with name BOB already exists\."):
        async with meta_store.transaction() as tx:
            await tx.identities.users.create(user("BOB", id="AIDAOTHER"))


async def test_user_update_renames_and_refuses_a_taken_name(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        bob = await tx.identities.users.create(user("bob"))
        await tx.identities.users.create(user("carol"))
        await tx.identities.users.update(user("robert", id=bob.id, path="/ops/"))
    async with meta_store.read() as tx:
        renamed = await tx.identities.users.get_by_id(bob.id)
        assert renamed is not None and (renamed.name, renamed.path) == ("robert", "/ops/")
        assert await tx.identities.users.get("bob") is None
    with pytest.raises(EntityAlreadyExistsError):
        async with meta_store.transaction() as tx:
            await tx.identities.users.update(user("Carol", id=bob.id))


async def test_users_list_in_name_order_with_prefix_and_paging(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        for name, path in [("dave", "/ops/"), ("Alice", "/"), ("carol", "/ops/ci/"), ("bob", "/")]:
            await tx.identities.users.create(user(name, path))
    async with meta_store.read() as tx:
        users = tx.identities.users
        assert [u.name for u in await users.list()] == ["Alice", "bob", "carol", "dave"]
        assert [u.name for u in await users.list("/ops/")] == ["carol", "dave"]
        assert [u.name for u in await users.list(after="bob", limit=1)] == ["carol"]
        assert await users.count() == 4


async def test_user_delete_cascades_to_memberships_keys_and_logins(meta_store: MetaStore) -> None:
    bob, admins = user("bob"), group("admins")
    async with meta_store.transaction() as tx:
        ids = tx.identities
        await ids.users.create(bob)
        await ids.groups.create(admins)
        await ids.groups.add_member(admins.id, bob.id)
        await ids.keys.create(AccessKey("AKIA1", bob.id, b"sealed", "Active", T0))
        await ids.logins.create(LoginProfile(bob.id, "scrypt$x", T0))
        await ids.users.delete(bob.id)
    async with meta_store.read() as tx:
        assert await tx.identities.groups.members(admins.id) == []
        assert await tx.identities.keys.get("AKIA1") is None
        assert await tx.identities.logins.get(bob.id) is None


async def test_group_membership(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        groups = tx.identities.groups
        bob, carol = user("bob"), user("carol")
        for who in (bob, carol):
            await tx.identities.users.create(who)
        admins, devs = group("admins"), group("devs")
        for g in (devs, admins):
            await groups.create(g)
        assert await groups.add_member(admins.id, bob.id)
        assert not await groups.add_member(admins.id, bob.id)
        await groups.add_member(devs.id, bob.id)
        await groups.add_member(admins.id, carol.id)
    async with meta_store.read() as tx:
        groups = tx.identities.groups
        assert [g.name for g in await groups.groups_of(bob.id)] == ["admins", "devs"]
        assert [u.name for u in await groups.members(admins.id)] == ["bob", "carol"]
        assert await groups.count() == 2
    async with meta_store.transaction() as tx:
        assert await tx.identities.groups.remove_member(admins.id, bob.id)
        assert not await tx.identities.groups.remove_member(admins.id, bob.id)


async def test_role_round_trip(meta_store: MetaStore) -> None:
    admin = role("admin", description="d", max_session_duration=7200, tags=(("a", "b"),))
    async with meta_store.transaction() as tx:
        await tx.identities.roles.create(admin)
    async with meta_store.read() as tx:
        assert await tx.identities.roles.get("ADMIN") == admin
    with pytest.raises(EntityAlreadyExistsError, match=r"Role with name admin already exists\."):
        async with meta_store.transaction() as tx:
            await tx.identities.roles.create(role("admin", id="AROAOTHER"))


# -- managed and inline policies ----------------------------------------------------------------


async def test_managed_policy_versions_and_default(meta_store: MetaStore) -> None:
    read = policy("read", "/team/")
    async with meta_store.transaction() as tx:
        policies = tx.identities.policies
        await policies.create(read, DOC)
        await policies.add_version(PolicyVersion(read.id, "v2", DOC + " ", T0 + timedelta(1)))
        await policies.update(
            ManagedPolicy(**{**_fields(read), "default_version": "v2", "versions_created": 2})
        )
    async with meta_store.read() as tx:
        policies = tx.identities.policies
        found = await policies.get(read.arn)
        assert found is not None and found.default_version == "v2"
        assert found.versions_created == 2
        versions = await policies.versions(read.id)
        assert [(v.version_id, v.is_default) for v in versions] == [("v2", True), ("v1", False)]
        v1 = await policies.get_version(read.id, "v1")
        assert v1 is not None and v1.document == DOC and not v1.is_default
        assert await policies.get_version(read.id, "v9") is None
    async with meta_store.transaction() as tx:
        assert await tx.identities.policies.delete_version(read.id, "v1")
        assert not await tx.identities.policies.delete_version(read.id, "v1")


def _fields(p: ManagedPolicy) -> dict[str, object]:
    return {name: getattr(p, name) for name in ManagedPolicy.__dataclass_fields__}


async def test_managed_policy_names_are_unique(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        await tx.identities.policies.create(policy("read"), DOC)
    with pytest.raises(EntityAlreadyExistsError, match="A policy called Read already exists"):
        async with meta_store.transaction() as tx:
            await tx.identities.policies.create(policy("Read", "/other/"), DOC)


async def test_attachments_counts_and_listing(meta_store: MetaStore) -> None:
    bob, admin = user("bob"), role("admin")
    read, write, spare = policy("read"), policy("write"), policy("spare")
    async with meta_store.transaction() as tx:
        ids = tx.identities
        await ids.users.create(bob)
        await ids.roles.create(admin)
        for p in (read, write, spare):
            await ids.policies.create(p, DOC)
        assert await ids.policies.attach(OwnerKind.USER, bob.id, write.id)
        assert await ids.policies.attach(OwnerKind.USER, bob.id, read.id)
        assert not await ids.policies.attach(OwnerKind.USER, bob.id, read.id)
        await ids.policies.attach(OwnerKind.ROLE, admin.id, read.id)
        await ids.users.update(user("bob", id=bob.id, permissions_boundary=spare.arn))
    async with meta_store.read() as tx:
        policies = tx.identities.policies
        attached = await policies.attached(OwnerKind.USER, [bob.id])
        assert [(owner, a.policy.name, a.document) for owner, a in attached] == [
            (bob.id, "read", DOC),
            (bob.id, "write", DOC),
        ]
        counted = await policies.get(read.arn)
        assert counted is not None and counted.attachment_count == 2
        bounded = await policies.get(spare.arn)
        assert bounded is not None and bounded.boundary_usage_count == 1
        assert [p.name for p in await policies.list(only_attached=True)] == ["read", "write"]
        assert [p.name for p in await policies.list(after="read")] == ["spare", "write"]
        assert set(await policies.attached_to(read.id)) == {
            (OwnerKind.USER, bob.id),
            (OwnerKind.ROLE, admin.id),
        }
        assert await policies.attached(OwnerKind.GROUP, []) == []
    async with meta_store.transaction() as tx:
        assert await tx.identities.policies.detach(OwnerKind.USER, bob.id, read.id)
        assert not await tx.identities.policies.detach(OwnerKind.USER, bob.id, read.id)
        await tx.identities.policies.delete(write.id)
    async with meta_store.read() as tx:
        assert await tx.identities.policies.attached(OwnerKind.USER, [bob.id]) == []
        assert await tx.identities.policies.get(write.arn) is None
        assert await tx.identities.policies.count() == 2


async def test_inline_policies_put_replace_list_delete(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        inline = tx.identities.inline
        await inline.put(InlinePolicy(OwnerKind.USER, "AIDA1", "pull", DOC))
        await inline.put(InlinePolicy(OwnerKind.USER, "AIDA1", "pull", DOC + " "))
        await inline.put(InlinePolicy(OwnerKind.USER, "AIDA1", "admin", DOC))
        await inline.put(InlinePolicy(OwnerKind.GROUP, "AIDA1", "other", DOC))
    async with meta_store.read() as tx:
        inline = tx.identities.inline
        got = await inline.get(OwnerKind.USER, "AIDA1", "pull")
        assert got is not None and got.document == DOC + " "
        listed = await inline.list(OwnerKind.USER, ["AIDA1"])
        assert [p.name for p in listed] == ["admin", "pull"]
        assert await inline.get(OwnerKind.ROLE, "AIDA1", "pull") is None
    async with meta_store.transaction() as tx:
        assert await tx.identities.inline.delete(OwnerKind.USER, "AIDA1", "pull")
        assert not await tx.identities.inline.delete(OwnerKind.USER, "AIDA1", "pull")


# -- credentials --------------------------------------------------------------------------------


async def test_access_keys(meta_store: MetaStore) -> None:
    bob = user("bob")
    async with meta_store.transaction() as tx:
        ids = tx.identities
        await ids.users.create(bob)
        await ids.keys.create(AccessKey("AKIA2", bob.id, b"\x01sealed", "Active", T0))
        await ids.keys.create(AccessKey("AKIA1", bob.id, b"\x01other", "Active", T0))
        assert await ids.keys.set_status("AKIA1", "Inactive")
        await ids.keys.record_use("AKIA2", T0 + timedelta(hours=1), "ecr", "eu-west-1")
    async with meta_store.read() as tx:
        keys = await tx.identities.keys.list(bob.id)
        assert [(k.id, k.status) for k in keys] == [("AKIA1", "Inactive"), ("AKIA2", "Active")]
        used = await tx.identities.keys.get("AKIA2")
        assert used is not None and used.secret == b"\x01sealed"
        assert (used.last_used_at, used.last_used_service, used.last_used_region) == (
            T0 + timedelta(hours=1),
            "ecr",
            "eu-west-1",
        )
        assert await tx.identities.keys.count() == 2
    async with meta_store.transaction() as tx:
        assert await tx.identities.keys.delete("AKIA1")
        assert not await tx.identities.keys.delete("AKIA1")
        assert not await tx.identities.keys.set_status("AKIA1", "Active")


async def test_login_profiles(meta_store: MetaStore) -> None:
    bob = user("bob")
    async with meta_store.transaction() as tx:
        await tx.identities.users.create(bob)
        assert await tx.identities.logins.create(LoginProfile(bob.id, "h1", T0, True))
        assert not await tx.identities.logins.create(LoginProfile(bob.id, "h2", T0))
        await tx.identities.logins.update(LoginProfile(bob.id, "h3", T0, False))
    async with meta_store.read() as tx:
        assert await tx.identities.logins.get(bob.id) == LoginProfile(bob.id, "h3", T0, False)
    async with meta_store.transaction() as tx:
        assert await tx.identities.logins.delete(bob.id)
        assert not await tx.identities.logins.delete(bob.id)


async def test_sessions_and_expiry(meta_store: MetaStore) -> None:
    live = StsSession(
        access_key_id="ASIA1",
        secret=b"\x01s",
        token_hash="ab" * 32,
        session_name="ci",
        source_arn=f"arn:aws:iam::{ACCOUNT}:user/bob",
        created_at=T0,
        expires_at=T0 + timedelta(hours=1),
        role_id="AROA1",
        policy=DOC,
        policy_arns=("arn:aws:iam::123456789012:policy/read",),
    )
    old = StsSession("ASIA2", b"\x01s", "cd" * 32, "old", "arn:x", T0, T0, user_id="AIDA1")
    async with meta_store.transaction() as tx:
        await tx.identities.sessions.create(live)
        await tx.identities.sessions.create(old)
    async with meta_store.read() as tx:
        assert await tx.identities.sessions.get("ASIA1") == live
        assert await tx.identities.sessions.get("ASIA3") is None
    async with meta_store.transaction() as tx:
        assert await tx.identities.sessions.delete_expired(T0 + timedelta(minutes=1)) == 1
    async with meta_store.read() as tx:
        assert await tx.identities.sessions.get("ASIA2") is None
