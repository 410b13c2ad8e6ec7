"""The metadata store protocol: one protocol per aggregate, frozen dataclasses in and out.

Everything happens inside ``store.transaction()`` (read-write, atomic) or ``store.read()``
(a consistent read). Backends (``sql.py``) keep their SQLite/PostgreSQL differences to
themselves and never hand out rows.
"""

from __future__ import annotations

import builtins
from collections.abc import Hashable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from berth.meta.identities import IdentityStore

__all__ = [
    "AuditEvent",
    "AuditFilter",
    "AuditStore",
    "Blob",
    "BlobIndex",
    "BlobLink",
    "Manifest",
    "ManifestStore",
    "MetaStore",
    "Reference",
    "ReferenceKind",
    "Repository",
    "RepositoryStore",
    "SettingStore",
    "SignInFailure",
    "SignInFailureStore",
    "Tag",
    "TagStore",
    "Transaction",
    "Upload",
    "UploadStore",
]


@dataclass(frozen=True, slots=True)
class Repository:
    id: int
    name: str
    created_at: datetime
    tag_mutability: str = "MUTABLE"
    tag_mutability_exclusions: tuple[str, ...] = ()
    scan_on_push: bool = False
    encryption_type: str = "AES256"
    kms_key: str | None = None
    policy: str | None = None
    lifecycle_policy: str | None = None
    resource_tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Blob:
    digest: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BlobLink:
    """A blob as linked to a repository, and when it was last linked (or the link refreshed)."""

    blob: Blob
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest or index, its body byte for byte as pushed."""

    repository_id: int
    digest: str
    media_type: str
    size: int
    body: bytes
    pushed_at: datetime
    artifact_type: str | None = None
    subject: str | None = None
    config_digest: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()
    last_pulled_at: datetime | None = None


class ReferenceKind(Enum):
    BLOB = "blob"
    MANIFEST = "manifest"


@dataclass(frozen=True, slots=True)
class Reference:
    """A manifest's edge to a blob (config, layer) or to a child manifest (index entry)."""

    digest: str
    kind: ReferenceKind
    size: int = 0


@dataclass(frozen=True, slots=True)
class Tag:
    repository_id: int
    name: str
    digest: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    repository_id: int
    size: int
    backend: dict[str, Any]
    started_at: datetime
    updated_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)


class RepositoryStore(Protocol):
    async def get(self, name: str) -> Repository | None: ...

    async def get_by_id(self, repository_id: int) -> Repository | None: ...

    async def create(self, repository: Repository) -> Repository:
        """Insert (``repository.id`` is ignored); RepositoryAlreadyExistsError if the name is taken."""

    async def update(self, repository: Repository) -> None:
        """Write every field of ``repository`` (found by id)."""

    async def delete(self, repository_id: int) -> None:
        """Delete the repository with its tags, manifests, references, blob links and uploads."""

    async def list(
        self, after: str | None = None, limit: int | None = None
    ) -> builtins.list[Repository]:
        """Repositories in name order, names strictly after ``after``."""

    async def count(self) -> int: ...


class BlobIndex(Protocol):
    """Blob rows and repository links. Garbage collection and pushes meet here: the methods that
    hold a row (``put``, ``pin``, ``pin_linked``) keep it until the transaction ends, and the
    collector's ``drop_stale_link`` and ``claim_unreferenced`` lock before they re-check, so a
    push that commits first keeps its blob, and one that commits after sees it gone."""

    async def get(self, digest: str) -> Blob | None: ...

    async def put(self, digest: str, size: int, at: datetime) -> Blob:
        """Record a committed blob and hold its row (shared) until the transaction ends.

        Recording one already known is not an error. If the collector deletes the row
        meanwhile, it is recorded again (the caller then checks the bytes are still stored).
        """

    async def pin(self, digest: str) -> Blob | None:
        """The blob, its row held (shared) until the transaction ends; None if there is none."""

    async def link(self, repository_id: int, digest: str, at: datetime | None = None) -> None:
        """Make the blob readable through the repository, linked ``at`` (default: now).

        Linking again is not an error and makes the link young again.
        """

    async def get_linked(self, repository_id: int, digest: str) -> Blob | None:
        """The blob if it exists and is linked to the repository."""

    async def get_link(self, repository_id: int, digest: str) -> BlobLink | None:
        """Like ``get_linked``, with the link's time (one query)."""

    async def refresh_link(self, repository_id: int, digest: str, at: datetime) -> bool:
        """Make an existing link young again (linked ``at``); False if there is no link.

        Unlike ``link`` it never makes a link, so it cannot bring back one the collector dropped.
        """

    async def pin_linked(self, repository_id: int, digest: str) -> Blob | None:
        """Like ``get_linked``, with the link held (shared) until the transaction ends."""

    async def pin_all_linked(self, repository_id: int, digests: Sequence[str]) -> set[str]:
        """Those of ``digests`` linked to the repository, each link held like ``pin_linked``
        (one query however many digests)."""

    async def unlink(self, repository_id: int, digest: str) -> bool:
        """Remove the link; True if there was one."""

    async def stale_links(
        self, linked_before: datetime, limit: int, after: tuple[int, str] | None = None
    ) -> builtins.list[tuple[int, str]]:
        """Links made before ``linked_before`` that no manifest in their repository references,
        as ``(repository id, digest)`` in that order, strictly after ``after`` (for GC)."""

    async def drop_stale_link(
        self, repository_id: int, digest: str, linked_before: datetime
    ) -> bool:
        """Drop the link if it is still stale: locked first, its references checked after."""

    async def unreferenced(self, created_before: datetime, limit: int) -> builtins.list[Blob]:
        """Blobs linked to no repository and referenced by no manifest (for GC)."""

    async def claim_unreferenced(self, digest: str, created_before: datetime) -> Blob | None:
        """Lock the blob's row (exclusively) if it is still linked nowhere, referenced by no
        manifest and created before ``created_before``; None (and no lock) otherwise.

        The collector then deletes the bytes and the row in the same transaction, so a push
        waiting on the row finds it gone and knows the bytes went with it.
        """

    async def missing(self, digests: Sequence[str]) -> set[str]:
        """Those of ``digests`` that have no row."""

    async def delete(self, digest: str) -> None: ...


class ManifestStore(Protocol):
    async def get(self, repository_id: int, digest: str) -> Manifest | None: ...

    async def put(self, manifest: Manifest, references: Sequence[Reference]) -> bool:
        """Insert the manifest and its references; False (and no change) if it already exists."""

    async def delete(self, repository_id: int, digest: str) -> bool:
        """Delete the manifest, its references and the tags pointing to it; True if it existed."""

    async def list(
        self, repository_id: int, after: str | None = None, limit: int | None = None
    ) -> builtins.list[Manifest]:
        """Manifests in digest order, digests strictly after ``after``."""

    async def count(self, repository_id: int) -> int: ...

    async def referrers(
        self, repository_id: int, subject: str, artifact_type: str | None = None
    ) -> builtins.list[Manifest]:
        """Manifests whose subject is ``subject``, optionally of one artifact type."""

    async def references(self, repository_id: int, digest: str) -> builtins.list[Reference]: ...

    async def is_referenced(self, repository_id: int, digest: str) -> bool:
        """True if another manifest in the repository references ``digest`` (an index child)."""

    async def mark_pulled(self, repository_id: int, digest: str, at: datetime) -> None: ...


class TagStore(Protocol):
    async def get(self, repository_id: int, name: str) -> Tag | None: ...

    async def put(self, repository_id: int, name: str, digest: str, at: datetime) -> None:
        """Point the tag at ``digest`` (made if new)."""

    async def delete(self, repository_id: int, name: str) -> bool: ...

    async def list(
        self, repository_id: int, after: str | None = None, limit: int | None = None
    ) -> builtins.list[str]:
        """Tag names in lexical order, strictly after ``after``."""

    async def for_digest(self, repository_id: int, digest: str) -> builtins.list[str]: ...

    async def for_digests(
        self, repository_id: int, digests: Sequence[str]
    ) -> dict[str, builtins.list[str]]:
        """``for_digest`` of each digest at once (one query): digest -> sorted tag names."""

    async def count(self, repository_id: int) -> int: ...


class UploadStore(Protocol):
    async def create(self, upload: Upload) -> None: ...

    async def get(self, upload_id: str) -> Upload | None: ...

    async def update(
        self, upload_id: str, size: int, backend: dict[str, Any], at: datetime
    ) -> None: ...

    async def advance(
        self, upload_id: str, from_size: int, size: int, backend: dict[str, Any], at: datetime
    ) -> bool:
        """Update the upload only if it still holds ``from_size`` bytes; False if another
        request (on any node) moved it on first."""
        ...

    async def delete(self, upload_id: str) -> None: ...

    async def expired(self, updated_before: datetime, limit: int) -> builtins.list[Upload]: ...

    async def delete_if_idle(self, upload_id: str, updated_before: datetime) -> bool:
        """Delete the session unless it was used since ``updated_before``; True if deleted."""

    async def count(self) -> int: ...

    async def existing(self, upload_ids: Sequence[str]) -> set[str]:
        """Those of ``upload_ids`` that have a session row."""


class SettingStore(Protocol):
    """Registry-wide named values (JSON-able): keys, registry policy, account settings."""

    async def get(self, key: str) -> Any | None: ...

    async def put(self, key: str, value: Any) -> None: ...

    async def put_if_absent(self, key: str, value: Any) -> Any:
        """Store ``value`` unless the key exists; return what is stored (first writer wins)."""

    async def delete(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One authorization decision: who, what, on which resource, from where, and the outcome."""

    at: datetime
    principal: str
    action: str
    resource: str
    outcome: str
    source_ip: str = ""
    request_id: str = ""
    message: str = ""
    id: int = 0


@dataclass(frozen=True, slots=True)
class AuditFilter:
    principal: str | None = None
    action: str | None = None
    outcome: str | None = None
    resource_prefix: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditStore(Protocol):
    async def add(self, events: Sequence[AuditEvent]) -> None: ...

    async def list(
        self, where: AuditFilter, before_id: int | None = None, limit: int = 100
    ) -> builtins.list[AuditEvent]:
        """Newest first; ``before_id`` continues a previous page."""


@dataclass(frozen=True, slots=True)
class SignInFailure:
    """Failed console sign-ins counted under one key, and when sign-ins under it are heard again."""

    key: str
    failures: int
    last_at: datetime
    blocked_until: datetime | None = None


class SignInFailureStore(Protocol):
    async def lock(self, keys: Sequence[str], at: datetime) -> dict[str, SignInFailure]:
        """The counters of ``keys``, each held (exclusively) until the transaction ends; a key
        with no counter gets one of 0 failures last touched ``at`` (written, so it can be held)."""

    async def put(self, counters: Sequence[SignInFailure]) -> None:
        """Write counters taken with ``lock`` in this transaction."""

    async def delete(self, keys: Sequence[str]) -> None: ...

    async def purge(self, idle_before: datetime) -> int:
        """Delete counters whose last failure and wait both ended before ``idle_before``; how
        many."""


class Transaction(Protocol):
    repositories: RepositoryStore
    blobs: BlobIndex
    manifests: ManifestStore
    tags: TagStore
    uploads: UploadStore
    settings: SettingStore
    identities: IdentityStore
    audit: AuditStore
    sign_in_failures: SignInFailureStore


class MetaStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Read-write, committed when the block ends without an exception, else rolled back."""

    def read(self) -> AbstractAsyncContextManager[Transaction]:
        """Read-only view (writes inside are an error or ignored)."""

    def exclusive(
        self, name: str, *, lease_seconds: float = 60.0
    ) -> AbstractAsyncContextManager[bool]:
        """Try to take the cluster-wide lock ``name`` for the block, without waiting.

        Yields True when taken (held until the block ends), False when another process holds
        it. A holder that dies loses the lock: at once on PostgreSQL (the session ends), after
        ``lease_seconds`` on SQLite (the lease is renewed while the block runs).
        """

    async def check(self) -> None:
        """Raise if the database cannot be reached (readiness)."""

    async def close(self) -> None: ...

    def generation(self, tables: tuple[str, ...] = ()) -> Hashable:
        """A value that changes when a write to ``tables`` (to any table if empty) commits: this
        process's writes always, other processes' too when ``sees_other_writers`` (else cache
        entries must also expire)."""

    @property
    def sees_other_writers(self) -> bool: ...
