"""The MetaStore contract: one suite, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from berth.errors import RepositoryAlreadyExistsError
from berth.meta.base import (
    AuditEvent,
    AuditFilter,
    Manifest,
    MetaStore,
    Reference,
    ReferenceKind,
    Repository,
    Transaction,
    Upload,
)
from berth.meta.sql import open_meta_store

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def meta_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetaStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'berth.db'}"
    else:
        url = request.getfixturevalue("postgresql_url")
    store = await open_meta_store(url, registry_id="123456789012")
    try:
        yield store
    finally:
        await store.close()


def digest(seed: str | int) -> str:
    return "sha256:" + hashlib.sha256(str(seed).encode()).hexdigest()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def new_repository(tx: Transaction, name: str = "web") -> Repository:
    return await tx.repositories.create(Repository(id=0, name=name, created_at=T0))


def manifest(repository_id: int, seed: str | int, **fields: object) -> Manifest:
    body = f'{{"schemaVersion":2,"seed":"{seed}"}}'.encode()
    values: dict[str, object] = {
        "repository_id": repository_id,
        "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
        "media_type": OCI_MANIFEST,
        "size": len(body),
        "body": body,
        "pushed_at": T0,
    }
    values.update(fields)
    return Manifest(**values)  # type: ignore[arg-type]


# -- repositories -------------------------------------------------------------------------------


async def test_repository_create_get_and_duplicate(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        created = await new_repository(tx, "team/web")
    assert created.id > 0
    assert created.name == "team/web"
    async with meta_store.read() as tx:
        assert await tx.repositories.get("team/web") == created
        assert await tx.repositories.get_by_id(created.id) == created
        assert await tx.repositories.get("team/api") is None
        assert await tx.repositories.get_by_id(created.id + 1000) is None
    with pytest.raises(RepositoryAlreadyExistsError) as caught:
        async with meta_store.transaction() as tx:
            await new_repository(tx, "team/web")
    assert caught.value.message == (
        "The repository with name 'team/web' already exists in the registry with id '123456789012'"
    )


async def test_repository_list_after_limit_and_count(meta_store: MetaStore) -> None:
    names = ["b", "a/x", "a", "c-d", "c.d", "c_d", "z"]
    async with meta_store.transaction() as tx:
        for name in names:
            await new_repository(tx, name)
    async with meta_store.read() as tx:
        assert await tx.repositories.count() == len(names)
        assert [r.name for r in await tx.repositories.list()] == sorted(names)
        assert [r.name for r in await tx.repositories.list(limit=2)] == ["a", "a/x"]
        page = await tx.repositories.list(after="a/x", limit=3)
        assert [r.name for r in page] == ["b", "c-d", "c.d"]
        assert [r.name for r in await tx.repositories.list(after="z")] == []


async def test_repository_update_writes_every_field(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        created = await new_repository(tx, "web")
        await new_repository(tx, "api")
    changed = Repository(
        id=created.id,
        name="web2",
        created_at=at(5),
        tag_mutability="IMMUTABLE",
        tag_mutability_exclusions=("latest", "dev-*"),
        scan_on_push=True,
        encryption_type="KMS",
        kms_key="arn:aws:kms:us-east-1:123456789012:key/k",
        policy='{"Version":"2012-10-17","Statement":[]}',
        lifecycle_policy='{"rules":[]}',
        resource_tags=(("team", "core"), ("env", "prod")),
    )
    async with meta_store.transaction() as tx:
        await tx.repositories.update(changed)
    async with meta_store.read() as tx:
        assert await tx.repositories.get_by_id(created.id) == changed
        assert await tx.repositories.get("web") is None
    with pytest.raises(RepositoryAlreadyExistsError):
        async with meta_store.transaction() as tx:
            await tx.repositories.update(Repository(id=created.id, name="api", created_at=T0))


async def test_repository_delete_cascades(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx, "web")
        other = await new_repository(tx, "other")
        child = manifest(repo.id, "child")
        await tx.manifests.put(child, [Reference(digest("layer"), ReferenceKind.BLOB, 5)])
        await tx.tags.put(repo.id, "v1", child.digest, T0)
        await tx.blobs.put(digest("layer"), 5, T0)
        await tx.blobs.link(repo.id, digest("layer"))
        await tx.blobs.link(other.id, digest("layer"))
        await tx.uploads.create(Upload("u1", repo.id, 0, {}, T0, T0))
    async with meta_store.transaction() as tx:
        await tx.repositories.delete(repo.id)
    async with meta_store.read() as tx:
        assert await tx.repositories.get("web") is None
        assert await tx.repositories.count() == 1
        assert await tx.manifests.get(repo.id, child.digest) is None
        assert await tx.manifests.references(repo.id, child.digest) == []
        assert await tx.tags.get(repo.id, "v1") is None
        assert await tx.blobs.get_linked(repo.id, digest("layer")) is None
        assert await tx.blobs.get_linked(other.id, digest("layer")) is not None
        assert await tx.uploads.get("u1") is None


# -- blobs --------------------------------------------------------------------------------------


async def test_blob_put_get_link_unlink(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        blob = await tx.blobs.put(digest(1), 10, T0)
        assert (blob.digest, blob.size, blob.created_at) == (digest(1), 10, T0)
        assert await tx.blobs.put(digest(1), 10, at(9)) == blob
    async with meta_store.transaction() as tx:
        assert await tx.blobs.get(digest(1)) == blob
        assert await tx.blobs.get(digest(2)) is None
        assert await tx.blobs.get_linked(repo.id, digest(1)) is None
        await tx.blobs.link(repo.id, digest(1))
        await tx.blobs.link(repo.id, digest(1))
        assert await tx.blobs.get_linked(repo.id, digest(1)) == blob
        assert await tx.blobs.get_linked(repo.id, digest(2)) is None
        assert await tx.blobs.pin_all_linked(repo.id, [digest(1), digest(2), digest(1)]) == {
            digest(1)
        }
        assert await tx.blobs.pin_all_linked(repo.id, []) == set()
    async with meta_store.transaction() as tx:
        assert await tx.blobs.unlink(repo.id, digest(1)) is True
        assert await tx.blobs.unlink(repo.id, digest(1)) is False
        assert await tx.blobs.get_linked(repo.id, digest(1)) is None
        assert await tx.blobs.get(digest(1)) == blob


async def test_blob_unreferenced_and_delete(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        for n in range(5):
            await tx.blobs.put(digest(n), n, at(n))
        await tx.blobs.put(digest("young"), 1, at(60))
        await tx.blobs.link(repo.id, digest(1))
        referenced = manifest(repo.id, "m")
        await tx.manifests.put(referenced, [Reference(digest(2), ReferenceKind.BLOB, 2)])
    async with meta_store.read() as tx:
        found = await tx.blobs.unreferenced(at(30), limit=10)
        assert [b.digest for b in found] == [digest(0), digest(3), digest(4)]
        assert found[0].created_at == at(0)
        assert [b.digest for b in await tx.blobs.unreferenced(at(30), limit=2)] == [
            digest(0),
            digest(3),
        ]
        assert await tx.blobs.unreferenced(at(0), limit=10) == []
    async with meta_store.transaction() as tx:
        await tx.blobs.delete(digest(0))
        assert await tx.blobs.get(digest(0)) is None
        await tx.blobs.unlink(repo.id, digest(1))
        await tx.manifests.delete(repo.id, referenced.digest)
    async with meta_store.read() as tx:
        found = await tx.blobs.unreferenced(at(30), limit=10)
        assert [b.digest for b in found] == [digest(n) for n in range(1, 5)]


# -- manifests ----------------------------------------------------------------------------------


async def test_manifest_put_get_and_duplicate(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        stored = manifest(
            repo.id,
            "a",
            artifact_type="application/vnd.example+type",
            subject=digest("subject"),
            config_digest=digest("config"),
            annotations=(("org.opencontainers.image.created", "2024"), ("b", "2")),
        )
        refs = [
            Reference(digest("config"), ReferenceKind.BLOB, 7),
            Reference(digest("layer"), ReferenceKind.BLOB, 100),
        ]
        assert await tx.manifests.put(stored, refs) is True
        assert await tx.manifests.put(manifest(repo.id, "a", media_type="other"), []) is False
    async with meta_store.read() as tx:
        assert await tx.manifests.get(repo.id, stored.digest) == stored
        assert await tx.manifests.get(repo.id, digest("missing")) is None
        assert await tx.manifests.references(repo.id, stored.digest) == sorted(
            refs, key=lambda r: r.digest
        )


async def test_manifest_list_count_and_pagination(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        other = await new_repository(tx, "other")
        stored = [manifest(repo.id, n) for n in range(5)]
        for m in stored:
            await tx.manifests.put(m, [])
        await tx.manifests.put(manifest(other.id, 99), [])
    ordered = sorted(stored, key=lambda m: m.digest)
    async with meta_store.read() as tx:
        assert await tx.manifests.count(repo.id) == 5
        assert await tx.manifests.list(repo.id) == ordered
        assert await tx.manifests.list(repo.id, limit=2) == ordered[:2]
        assert await tx.manifests.list(repo.id, after=ordered[1].digest, limit=2) == ordered[2:4]
        assert await tx.manifests.list(repo.id, after=ordered[-1].digest) == []


async def test_manifest_referrers(meta_store: MetaStore) -> None:
    subject = digest("subject")
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        sbom = manifest(repo.id, "sbom", subject=subject, artifact_type="sbom", pushed_at=at(1))
        sig = manifest(repo.id, "sig", subject=subject, artifact_type="sig", pushed_at=at(2))
        unrelated = manifest(repo.id, "x", subject=digest("other"), artifact_type="sbom")
        for m in (sbom, sig, unrelated, manifest(repo.id, "plain")):
            await tx.manifests.put(m, [])
    async with meta_store.read() as tx:
        assert await tx.manifests.referrers(repo.id, subject) == [sbom, sig]
        assert await tx.manifests.referrers(repo.id, subject, "sig") == [sig]
        assert await tx.manifests.referrers(repo.id, subject, "none") == []
        assert await tx.manifests.referrers(repo.id + 1, subject) == []


async def test_manifest_is_referenced_by_index(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        other = await new_repository(tx, "other")
        child = manifest(repo.id, "child")
        index = manifest(repo.id, "index", media_type=OCI_INDEX)
        await tx.manifests.put(child, [])
        await tx.manifests.put(index, [Reference(child.digest, ReferenceKind.MANIFEST, 10)])
    async with meta_store.transaction() as tx:
        assert await tx.manifests.is_referenced(repo.id, child.digest) is True
        assert await tx.manifests.is_referenced(repo.id, index.digest) is False
        assert await tx.manifests.is_referenced(other.id, child.digest) is False
        assert await tx.manifests.references(repo.id, index.digest) == [
            Reference(child.digest, ReferenceKind.MANIFEST, 10)
        ]
        assert await tx.manifests.delete(repo.id, index.digest) is True
        assert await tx.manifests.is_referenced(repo.id, child.digest) is False
        assert await tx.manifests.references(repo.id, index.digest) == []


async def test_manifest_mark_pulled(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        m = manifest(repo.id, "a")
        await tx.manifests.put(m, [])
        await tx.manifests.mark_pulled(repo.id, m.digest, at(10))
        await tx.manifests.mark_pulled(repo.id, m.digest, at(5))
        await tx.manifests.mark_pulled(repo.id, digest("missing"), at(5))
    async with meta_store.read() as tx:
        pulled = await tx.manifests.get(repo.id, m.digest)
        assert pulled is not None
        assert pulled.last_pulled_at == at(10)


async def test_manifest_delete_removes_tags_and_references(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        a, b = manifest(repo.id, "a"), manifest(repo.id, "b")
        await tx.manifests.put(a, [Reference(digest("layer"), ReferenceKind.BLOB, 1)])
        await tx.manifests.put(b, [])
        for name, target in (("v1", a), ("latest", a), ("v2", b)):
            await tx.tags.put(repo.id, name, target.digest, T0)
    async with meta_store.transaction() as tx:
        assert await tx.manifests.delete(repo.id, a.digest) is True
        assert await tx.manifests.delete(repo.id, a.digest) is False
    async with meta_store.read() as tx:
        assert await tx.manifests.get(repo.id, a.digest) is None
        assert await tx.manifests.references(repo.id, a.digest) == []
        assert await tx.tags.list(repo.id) == ["v2"]
        assert await tx.manifests.count(repo.id) == 1


async def test_manifest_body_round_trips_byte_for_byte(meta_store: MetaStore) -> None:
    body = bytes(range(256)) + b'\xff\xfe{"not": "utf-8"}\x00\r\n  '
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        m = manifest(repo.id, "raw", body=body, size=len(body))
        await tx.manifests.put(m, [])
    async with meta_store.read() as tx:
        stored = await tx.manifests.get(repo.id, m.digest)
        assert stored is not None
        assert stored.body == body
        assert type(stored.body) is bytes


# -- tags ---------------------------------------------------------------------------------------


async def test_tag_put_makes_then_moves_the_tag(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        await tx.tags.put(repo.id, "latest", digest(1), at(1))
        made = await tx.tags.get(repo.id, "latest")
        assert made is not None
        assert (made.digest, made.updated_at) == (digest(1), at(1))
        await tx.tags.put(repo.id, "latest", digest(2), at(2))
    async with meta_store.read() as tx:
        current = await tx.tags.get(repo.id, "latest")
        assert current is not None
        assert (current.digest, current.updated_at) == (digest(2), at(2))
        assert await tx.tags.get(repo.id, "missing") is None


async def test_tag_list_pagination_for_digest_delete_count(meta_store: MetaStore) -> None:
    names = ["v1.0", "v1-0", "V2", "latest", "Latest", "a_b", "v10", "v9"]
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        other = await new_repository(tx, "other")
        for i, name in enumerate(names):
            await tx.tags.put(repo.id, name, digest(i % 2), T0)
        await tx.tags.put(other.id, "zzz", digest(0), T0)
    ordered = sorted(names)
    async with meta_store.transaction() as tx:
        assert await tx.tags.count(repo.id) == len(names)
        assert await tx.tags.list(repo.id) == ordered
        assert await tx.tags.list(repo.id, limit=3) == ordered[:3]
        assert await tx.tags.list(repo.id, after=ordered[2], limit=3) == ordered[3:6]
        assert await tx.tags.list(repo.id, after=ordered[-1]) == []
        assert await tx.tags.for_digest(repo.id, digest(1)) == sorted(names[1::2])
        assert await tx.tags.for_digest(repo.id, digest(5)) == []
        both = await tx.tags.for_digests(repo.id, [digest(1), digest(5)])
        assert both == {digest(1): sorted(names[1::2]), digest(5): []}
        assert await tx.tags.for_digests(repo.id, []) == {}
        assert await tx.tags.delete(repo.id, "latest") is True
        assert await tx.tags.delete(repo.id, "latest") is False
        assert await tx.tags.count(repo.id) == len(names) - 1
        assert await tx.tags.count(other.id) == 1
    async with meta_store.read() as tx:
        assert await tx.tags.list(repo.id, after="latest") == [n for n in ordered if n > "latest"]
        assert await tx.tags.list(repo.id, limit=2) == ["Latest", "V2"]
        assert await tx.tags.list(other.id, after="zzz") == []
        assert await tx.tags.list(repo.id, limit=0) == []


# -- uploads ------------------------------------------------------------------------------------


async def test_upload_crud_and_expired(meta_store: MetaStore) -> None:
    backend = {"upload_id": "abc", "parts": [{"n": 1, "etag": '"e1"'}], "unicode": "é"}
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        first = Upload("u1", repo.id, 0, backend, at(0), at(0), extra={"hash": "state"})
        await tx.uploads.create(first)
        await tx.uploads.create(Upload("u2", repo.id, 0, {}, at(1), at(1)))
        await tx.uploads.create(Upload("u3", repo.id, 0, {}, at(2), at(2)))
    async with meta_store.transaction() as tx:
        assert await tx.uploads.get("u1") == first
        assert await tx.uploads.get("nope") is None
        await tx.uploads.update("u2", 1024, {"offset": 1024}, at(20))
        updated = await tx.uploads.get("u2")
        assert updated is not None
        assert (updated.size, updated.backend, updated.updated_at) == (
            1024,
            {"offset": 1024},
            at(20),
        )
        assert updated.started_at == at(1)
        assert [u.id for u in await tx.uploads.expired(at(10), limit=10)] == ["u1", "u3"]
        assert [u.id for u in await tx.uploads.expired(at(10), limit=1)] == ["u1"]
        await tx.uploads.delete("u1")
        await tx.uploads.delete("u1")
        assert await tx.uploads.get("u1") is None


async def test_upload_advances_only_from_the_size_it_holds(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        repo = await new_repository(tx)
        await tx.uploads.create(Upload("u1", repo.id, 0, {}, at(0), at(0)))
    async with meta_store.transaction() as tx:
        assert await tx.uploads.advance("u1", 0, 10, {"n": 1}, at(1))
        assert not await tx.uploads.advance("u1", 0, 20, {"n": 2}, at(2))
        assert not await tx.uploads.advance("gone", 0, 20, {"n": 2}, at(2))
        stored = await tx.uploads.get("u1")
    assert stored is not None
    assert (stored.size, stored.backend, stored.updated_at) == (10, {"n": 1}, at(1))


# -- settings -----------------------------------------------------------------------------------


async def test_settings_get_put_delete(meta_store: MetaStore) -> None:
    value = {"keys": [{"kid": "k1", "secret": "s"}], "n": 3, "flag": True}
    async with meta_store.transaction() as tx:
        assert await tx.settings.get("signing") is None
        await tx.settings.put("signing", value)
        assert await tx.settings.get("signing") == value
        await tx.settings.put("signing", [1, 2])
    async with meta_store.transaction() as tx:
        assert await tx.settings.get("signing") == [1, 2]
        await tx.settings.delete("signing")
        await tx.settings.delete("signing")
        assert await tx.settings.get("signing") is None


async def test_settings_put_if_absent_first_writer_wins(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        assert await tx.settings.put_if_absent("root", {"id": "first"}) == {"id": "first"}
        assert await tx.settings.put_if_absent("root", {"id": "second"}) == {"id": "first"}

    async def claim(n: int) -> object:
        async with meta_store.transaction() as tx:
            return await tx.settings.put_if_absent("race", n)

    winners = await asyncio.gather(*(claim(n) for n in range(10)))
    assert len(set(winners)) == 1  # type: ignore[arg-type]
    async with meta_store.read() as tx:
        assert await tx.settings.get("race") == winners[0]


# -- transactions -------------------------------------------------------------------------------


async def test_rollback_on_exception_leaves_nothing(meta_store: MetaStore) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with meta_store.transaction() as tx:
            repo = await new_repository(tx)
            await tx.manifests.put(manifest(repo.id, "a"), [])
            await tx.blobs.put(digest(1), 1, T0)
            await tx.settings.put("k", 1)
            raise RuntimeError("boom")
    async with meta_store.read() as tx:
        assert await tx.repositories.count() == 0
        assert await tx.blobs.get(digest(1)) is None
        assert await tx.settings.get("k") is None


async def test_read_sees_committed_data_and_keeps_no_writes(meta_store: MetaStore) -> None:
    async with meta_store.transaction() as tx:
        await new_repository(tx)
    try:
        async with meta_store.read() as tx:
            assert await tx.repositories.get("web") is not None
            await tx.settings.put("sneaky", 1)
    except Exception:  # a read-only view may refuse the write instead of dropping it
        pass
    async with meta_store.read() as tx:
        assert await tx.settings.get("sneaky") is None


async def test_concurrent_transactions_all_succeed(meta_store: MetaStore) -> None:
    async def push(n: int) -> None:
        async with meta_store.transaction() as tx:
            repo = await new_repository(tx, f"repo-{n:02d}")
            m = manifest(repo.id, n)
            await tx.blobs.put(digest(n), n, T0)
            await tx.blobs.link(repo.id, digest(n))
            await tx.manifests.put(m, [Reference(digest(n), ReferenceKind.BLOB, n)])
            await tx.tags.put(repo.id, "latest", m.digest, T0)

    await asyncio.gather(*(push(n) for n in range(20)))
    async with meta_store.read() as tx:
        assert await tx.repositories.count() == 20
        for repo in await tx.repositories.list():
            assert await tx.tags.count(repo.id) == 1


async def test_timestamps_round_trip_as_aware_utc(meta_store: MetaStore) -> None:
    tokyo = datetime(2024, 5, 1, 21, 0, 0, 654321, tzinfo=timezone(timedelta(hours=9)))
    async with meta_store.transaction() as tx:
        repo = await tx.repositories.create(Repository(id=0, name="web", created_at=tokyo))
        await tx.blobs.put(digest(1), 1, tokyo)
        await tx.tags.put(repo.id, "t", digest(1), tokyo)
    async with meta_store.read() as tx:
        stored = [
            (await tx.repositories.get("web")).created_at,  # type: ignore[union-attr]
            (await tx.blobs.get(digest(1))).created_at,  # type: ignore[union-attr]
            (await tx.tags.get(repo.id, "t")).updated_at,  # type: ignore[union-attr]
        ]
    for value in stored:
        assert value == tokyo
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo is not None
        assert value.hour == 12


async def test_naive_timestamps_are_refused(meta_store: MetaStore) -> None:
    with pytest.raises(Exception, match="naive"):
        async with meta_store.transaction() as tx:
            await tx.blobs.put(digest(1), 1, datetime(2024, 1, 1))


# -- text: the two databases compare and store strings alike ------------------------------------


async def test_prefix_filters_are_case_sensitive(meta_store: MetaStore) -> None:
    """SQLite's LIKE ignores ASCII case and PostgreSQL's does not: prefixes match exactly on both."""
    events = [
        AuditEvent(
            T0, "root", "ecr:PutImage", f"arn:aws:ecr:us-east-1:1:repository/{name}", "allow"
        )
        for name in ("Team/web", "team/api", "50%_off")
    ]
    async with meta_store.transaction() as tx:
        await tx.audit.add(events)
    async with meta_store.read() as tx:

        async def resources(prefix: str) -> list[str]:
            found = await tx.audit.list(AuditFilter(resource_prefix=prefix))
            return sorted(event.resource.rsplit("/", 1)[-1] for event in found)

        assert await resources("arn:aws:ecr:us-east-1:1:repository/team") == ["api"]
        assert await resources("arn:aws:ecr:us-east-1:1:repository/Team") == ["web"]
        assert await resources("arn:aws:ecr:us-east-1:1:repository/50%_") == ["50%_off"]
        assert await resources("arn:aws:ecr:us-east-1:1:repository/5_") == []


async def test_a_nul_character_finds_nothing_and_is_stored_replaced(meta_store: MetaStore) -> None:
    """PostgreSQL text cannot hold NUL; a lookup with one finds nothing, as on SQLite, and text
    holding one is kept with U+FFFD in its place on both."""
    async with meta_store.transaction() as tx:
        await new_repository(tx, "web")
        await tx.audit.add(
            [AuditEvent(T0, "root", "ecr:PutImage", "web", "allow", message="a\x00b")]
        )
    async with meta_store.read() as tx:
        assert await tx.repositories.get("web\x00") is None
        assert await tx.uploads.get("\x00") is None
        assert await tx.settings.get("\x00") is None
        assert await tx.identities.users.get("\x00") is None
        [event] = await tx.audit.list(AuditFilter(resource_prefix="web"))
        assert await tx.audit.list(AuditFilter(resource_prefix="w\x00")) == []
    assert event.message == "a\ufffdb"


async def test_check(meta_store: MetaStore) -> None:
    await meta_store.check()


async def test_two_stores_share_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    stores = [await open_meta_store(url), await open_meta_store(url)]
    try:

        async def create(n: int) -> None:
            async with stores[n % 2].transaction() as tx:
                await new_repository(tx, f"repo-{n:02d}")
                await tx.settings.put(f"k{n}", n)

        await asyncio.gather(*(create(n) for n in range(20)))
        async with stores[0].read() as tx:
            assert await tx.repositories.count() == 20
    finally:
        for store in stores:
            await store.close()
