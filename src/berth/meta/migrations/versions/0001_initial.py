"""The initial schema: repositories, blobs, manifests, references, tags, uploads, settings.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

DIGEST = 255
NAME = 256


def _name() -> sa.types.TypeEngine[str]:
    return sa.String(NAME).with_variant(sa.String(NAME, collation="C"), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _repository_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["repository_id"],
        ["repositories.id"],
        name=op.f(f"fk_{table}_repository_id_repositories"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", _name(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("tag_mutability", sa.String(32), nullable=False),
        sa.Column("tag_mutability_exclusions", sa.Text(), nullable=False),
        sa.Column("scan_on_push", sa.Boolean(), nullable=False),
        sa.Column("encryption_type", sa.String(32), nullable=False),
        sa.Column("kms_key", sa.String(2048), nullable=True),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("lifecycle_policy", sa.Text(), nullable=True),
        sa.Column("resource_tags", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repositories")),
        sa.UniqueConstraint("name", name=op.f("uq_repositories_name")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "blobs",
        sa.Column("digest", sa.String(DIGEST), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_blobs")),
    )
    op.create_table(
        "repository_blobs",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(DIGEST), nullable=False),
        sa.PrimaryKeyConstraint("repository_id", "digest", name=op.f("pk_repository_blobs")),
        _repository_fk("repository_blobs"),
    )
    op.create_index(op.f("ix_repository_blobs_digest"), "repository_blobs", ["digest"])
    op.create_table(
        "manifests",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(DIGEST), nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("artifact_type", sa.String(255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.String(DIGEST), nullable=True),
        sa.Column("config_digest", sa.String(DIGEST), nullable=True),
        sa.Column("annotations", sa.Text(), nullable=False),
        sa.Column("pushed_at", _utc(), nullable=False),
        sa.Column("last_pulled_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("repository_id", "digest", name=op.f("pk_manifests")),
        _repository_fk("manifests"),
    )
    op.create_index(
        op.f("ix_manifests_repository_id_subject"), "manifests", ["repository_id", "subject"]
    )
    op.create_table(
        "manifest_references",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("manifest_digest", sa.String(DIGEST), nullable=False),
        sa.Column("child_digest", sa.String(DIGEST), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "repository_id",
            "manifest_digest",
            "child_digest",
            name=op.f("pk_manifest_references"),
        ),
        sa.ForeignKeyConstraint(
            ["repository_id", "manifest_digest"],
            ["manifests.repository_id", "manifests.digest"],
            name=op.f("fk_manifest_references_repository_id_manifest_digest_manifests"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        op.f("ix_manifest_references_repository_id_child_digest"),
        "manifest_references",
        ["repository_id", "child_digest"],
    )
    op.create_index(
        op.f("ix_manifest_references_child_digest"), "manifest_references", ["child_digest"]
    )
    op.create_table(
        "tags",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("name", _name(), nullable=False),
        sa.Column("digest", sa.String(DIGEST), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("repository_id", "name", name=op.f("pk_tags")),
        _repository_fk("tags"),
    )
    op.create_index(op.f("ix_tags_repository_id_digest"), "tags", ["repository_id", "digest"])
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("backend", sa.Text(), nullable=False),
        sa.Column("extra", sa.Text(), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
        _repository_fk("uploads"),
    )
    op.create_index(op.f("ix_uploads_updated_at"), "uploads", ["updated_at"])
    op.create_index(op.f("ix_uploads_repository_id"), "uploads", ["repository_id"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )


def downgrade() -> None:
    for table in (
        "settings",
        "uploads",
        "tags",
        "manifest_references",
        "manifests",
        "repository_blobs",
        "blobs",
        "repositories",
    ):
        op.drop_table(table)
