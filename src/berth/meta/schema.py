"""The metadata schema (SQLAlchemy Core), one for SQLite and PostgreSQL.

``migrations/versions`` creates exactly this; a unit test compares the two.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.types import TypeEngine

__all__ = [
    "NAMING_CONVENTION",
    "JsonText",
    "UtcDateTime",
    "blobs",
    "iam_access_keys",
    "iam_attachments",
    "iam_group_members",
    "iam_groups",
    "iam_inline_policies",
    "iam_login_profiles",
    "iam_policies",
    "iam_policy_versions",
    "iam_roles",
    "iam_sessions",
    "iam_users",
    "leases",
    "manifest_references",
    "manifests",
    "metadata",
    "name_type",
    "repositories",
    "repository_blobs",
    "settings",
    "sign_in_failures",
    "tags",
    "uploads",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DIGEST = 255
NAME = 256


def name_type(length: int = NAME) -> TypeEngine[str]:
    """A name compared byte by byte on both databases, so paging and ordering agree."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored and returned in UTC; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use an aware datetime (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JsonText(TypeDecorator[Any]):
    """A JSON document kept as text (the same on both databases)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", name_type(), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("tag_mutability", String(32), nullable=False),
    Column("tag_mutability_exclusions", JsonText, nullable=False),
    Column("scan_on_push", Boolean, nullable=False),
    Column("encryption_type", String(32), nullable=False),
    Column("kms_key", String(2048), nullable=True),
    Column("policy", Text, nullable=True),
    Column("lifecycle_policy", Text, nullable=True),
    Column("resource_tags", JsonText, nullable=False),
    sqlite_autoincrement=True,
)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(DIGEST), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

repository_blobs = Table(
    "repository_blobs",
    metadata,
    Column("repository_id", Integer, nullable=False),
    Column("digest", String(DIGEST), nullable=False),
    Column("linked_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("repository_id", "digest"),
    ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
    Index("ix_repository_blobs_digest", "digest"),
    Index("ix_repository_blobs_linked_at", "linked_at"),
)

manifests = Table(
    "manifests",
    metadata,
    Column("repository_id", Integer, nullable=False),
    Column("digest", String(DIGEST), nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("artifact_type", String(255), nullable=True),
    Column("size", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("subject", String(DIGEST), nullable=True),
    Column("config_digest", String(DIGEST), nullable=True),
    Column("annotations", JsonText, nullable=False),
    Column("pushed_at", UtcDateTime, nullable=False),
    Column("last_pulled_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("repository_id", "digest"),
    ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
    Index("ix_manifests_repository_id_subject", "repository_id", "subject"),
)

manifest_references = Table(
    "manifest_references",
    metadata,
    Column("repository_id", Integer, nullable=False),
    Column("manifest_digest", String(DIGEST), nullable=False),
    Column("child_digest", String(DIGEST), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("size", BigInteger, nullable=False),
    PrimaryKeyConstraint("repository_id", "manifest_digest", "child_digest"),
    ForeignKeyConstraint(
        ["repository_id", "manifest_digest"],
        ["manifests.repository_id", "manifests.digest"],
        ondelete="CASCADE",
    ),
    Index("ix_manifest_references_repository_id_child_digest", "repository_id", "child_digest"),
    Index("ix_manifest_references_child_digest", "child_digest"),
)

tags = Table(
    "tags",
    metadata,
    Column("repository_id", Integer, nullable=False),
    Column("name", name_type(), nullable=False),
    Column("digest", String(DIGEST), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("repository_id", "name"),
    ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
    Index("ix_tags_repository_id_digest", "repository_id", "digest"),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("repository_id", Integer, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("backend", JsonText, nullable=False),
    Column("extra", JsonText, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
    Index("ix_uploads_updated_at", "updated_at"),
    Index("ix_uploads_repository_id", "repository_id"),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", JsonText, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# -- IAM and STS ----------------------------------------------------------------------------------

IAM_ID = 32
IAM_NAME = 128
IAM_PATH = 512
ARN = 2048


def _iam_owner() -> list[Column[Any]]:
    """The columns every IAM principal table starts with (names unique without case)."""
    return [
        Column("id", String(IAM_ID), primary_key=True),
        Column("name", String(IAM_NAME), nullable=False),
        Column("name_key", name_type(IAM_NAME), nullable=False, unique=True),
        Column("path", String(IAM_PATH), nullable=False),
        Column("arn", String(ARN), nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
    ]


iam_users = Table(
    "iam_users",
    metadata,
    *_iam_owner(),
    Column("tags", JsonText, nullable=False),
    Column("permissions_boundary", String(ARN), nullable=True),
)

iam_groups = Table("iam_groups", metadata, *_iam_owner())

iam_group_members = Table(
    "iam_group_members",
    metadata,
    Column("group_id", String(IAM_ID), nullable=False),
    Column("user_id", String(IAM_ID), nullable=False),
    PrimaryKeyConstraint("group_id", "user_id"),
    ForeignKeyConstraint(["group_id"], ["iam_groups.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["iam_users.id"], ondelete="CASCADE"),
    Index("ix_iam_group_members_user_id", "user_id"),
)

iam_roles = Table(
    "iam_roles",
    metadata,
    *_iam_owner(),
    Column("trust_policy", Text, nullable=False),
    Column("description", String(1000), nullable=False),
    Column("max_session_duration", Integer, nullable=False),
    Column("tags", JsonText, nullable=False),
    Column("permissions_boundary", String(ARN), nullable=True),
)

iam_policies = Table(
    "iam_policies",
    metadata,
    *_iam_owner(),
    Column("description", String(1000), nullable=False),
    Column("default_version", String(32), nullable=False),
    Column("versions_created", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_iam_policies_arn", "arn", unique=True),
)

iam_policy_versions = Table(
    "iam_policy_versions",
    metadata,
    Column("policy_id", String(IAM_ID), nullable=False),
    Column("version_id", String(32), nullable=False),
    Column("document", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("policy_id", "version_id"),
    ForeignKeyConstraint(["policy_id"], ["iam_policies.id"], ondelete="CASCADE"),
)

iam_attachments = Table(
    "iam_attachments",
    metadata,
    Column("owner_kind", String(8), nullable=False),
    Column("owner_id", String(IAM_ID), nullable=False),
    Column("policy_id", String(IAM_ID), nullable=False),
    PrimaryKeyConstraint("owner_kind", "owner_id", "policy_id"),
    ForeignKeyConstraint(["policy_id"], ["iam_policies.id"], ondelete="CASCADE"),
    Index("ix_iam_attachments_policy_id", "policy_id"),
)

iam_inline_policies = Table(
    "iam_inline_policies",
    metadata,
    Column("owner_kind", String(8), nullable=False),
    Column("owner_id", String(IAM_ID), nullable=False),
    Column("name", name_type(IAM_NAME), nullable=False),
    Column("document", Text, nullable=False),
    PrimaryKeyConstraint("owner_kind", "owner_id", "name"),
)

iam_access_keys = Table(
    "iam_access_keys",
    metadata,
    Column("id", String(IAM_ID), primary_key=True),
    Column("user_id", String(IAM_ID), nullable=False),
    Column("secret", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("last_used_service", String(64), nullable=True),
    Column("last_used_region", String(64), nullable=True),
    ForeignKeyConstraint(["user_id"], ["iam_users.id"], ondelete="CASCADE"),
    Index("ix_iam_access_keys_user_id", "user_id"),
)

iam_login_profiles = Table(
    "iam_login_profiles",
    metadata,
    Column("user_id", String(IAM_ID), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("reset_required", Boolean, nullable=False),
    ForeignKeyConstraint(["user_id"], ["iam_users.id"], ondelete="CASCADE"),
)

iam_sessions = Table(
    "iam_sessions",
    metadata,
    Column("access_key_id", String(IAM_ID), primary_key=True),
    Column("secret", LargeBinary, nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("session_name", String(64), nullable=False),
    Column("source_arn", String(ARN), nullable=False),
    Column("role_id", String(IAM_ID), nullable=True),
    Column("user_id", String(IAM_ID), nullable=True),
    Column("policy", Text, nullable=True),
    Column("policy_arns", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_iam_sessions_expires_at", "expires_at"),
)

# -- audit ------------------------------------------------------------------------------------------

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", UtcDateTime, nullable=False),
    Column("principal", String(ARN), nullable=False),
    Column("action", String(128), nullable=False),
    Column("resource", String(ARN), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("source_ip", String(64), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_audit_events_at", "at"),
    Index("ix_audit_events_principal", "principal"),
    sqlite_autoincrement=True,
)

# -- console sign-in throttling ---------------------------------------------------------------------

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    Column("blocked_until", UtcDateTime, nullable=True),
    Index("ix_sign_in_failures_last_at", "last_at"),
)
