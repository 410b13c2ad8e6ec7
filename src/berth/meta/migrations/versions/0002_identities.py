"""IAM and STS: users, groups, roles, managed and inline policies, access keys, logins, sessions.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

IAM_ID = 32
IAM_NAME = 128
IAM_PATH = 512
ARN = 2048
TABLES = (
    "iam_sessions",
    "iam_login_profiles",
    "iam_access_keys",
    "iam_inline_policies",
    "iam_attachments",
    "iam_policy_versions",
    "iam_policies",
    "iam_roles",
    "iam_group_members",
    "iam_groups",
    "iam_users",
)


def _name(length: int = IAM_NAME) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _id(name: str = "id", nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(IAM_ID), nullable=nullable)


def _owner(table: str) -> list[sa.schema.SchemaItem]:
    return [
        _id(),
        sa.Column("name", sa.String(IAM_NAME), nullable=False),
        sa.Column("name_key", _name(), nullable=False),
        sa.Column("path", sa.String(IAM_PATH), nullable=False),
        sa.Column("arn", sa.String(ARN), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("name_key", name=op.f(f"uq_{table}_name_key")),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def _principals() -> None:
    op.create_table(
        "iam_users",
        *_owner("iam_users"),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("permissions_boundary", sa.String(ARN), nullable=True),
    )
    op.create_table("iam_groups", *_owner("iam_groups"))
    op.create_table(
        "iam_group_members",
        _id("group_id"),
        _id("user_id"),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_iam_group_members")),
        _fk("iam_group_members", "group_id", "iam_groups"),
        _fk("iam_group_members", "user_id", "iam_users"),
    )
    op.create_index(op.f("ix_iam_group_members_user_id"), "iam_group_members", ["user_id"])
    op.create_table(
        "iam_roles",
        *_owner("iam_roles"),
        sa.Column("trust_policy", sa.Text(), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("max_session_duration", sa.Integer(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("permissions_boundary", sa.String(ARN), nullable=True),
    )


def _policies() -> None:
    op.create_table(
        "iam_policies",
        *_owner("iam_policies"),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("default_version", sa.String(32), nullable=False),
        sa.Column("versions_created", sa.Integer(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    )
    op.create_index(op.f("ix_iam_policies_arn"), "iam_policies", ["arn"], unique=True)
    op.create_table(
        "iam_policy_versions",
        _id("policy_id"),
        sa.Column("version_id", sa.String(32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("policy_id", "version_id", name=op.f("pk_iam_policy_versions")),
        _fk("iam_policy_versions", "policy_id", "iam_policies"),
    )
    op.create_table(
        "iam_attachments",
        sa.Column("owner_kind", sa.String(8), nullable=False),
        _id("owner_id"),
        _id("policy_id"),
        sa.PrimaryKeyConstraint(
            "owner_kind", "owner_id", "policy_id", name=op.f("pk_iam_attachments")
        ),
        _fk("iam_attachments", "policy_id", "iam_policies"),
    )
    op.create_index(op.f("ix_iam_attachments_policy_id"), "iam_attachments", ["policy_id"])
    op.create_table(
        "iam_inline_policies",
        sa.Column("owner_kind", sa.String(8), nullable=False),
        _id("owner_id"),
        sa.Column("name", _name(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "owner_kind", "owner_id", "name", name=op.f("pk_iam_inline_policies")
        ),
    )


def _credentials() -> None:
    op.create_table(
        "iam_access_keys",
        _id(),
        _id("user_id"),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_used_at", _utc(), nullable=True),
        sa.Column("last_used_service", sa.String(64), nullable=True),
        sa.Column("last_used_region", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_access_keys")),
        _fk("iam_access_keys", "user_id", "iam_users"),
    )
    op.create_index(op.f("ix_iam_access_keys_user_id"), "iam_access_keys", ["user_id"])
    op.create_table(
        "iam_login_profiles",
        _id("user_id"),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("reset_required", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_iam_login_profiles")),
        _fk("iam_login_profiles", "user_id", "iam_users"),
    )
    op.create_table(
        "iam_sessions",
        _id("access_key_id"),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("session_name", sa.String(64), nullable=False),
        sa.Column("source_arn", sa.String(ARN), nullable=False),
        _id("role_id", nullable=True),
        _id("user_id", nullable=True),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("policy_arns", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("access_key_id", name=op.f("pk_iam_sessions")),
    )
    op.create_index(op.f("ix_iam_sessions_expires_at"), "iam_sessions", ["expires_at"])


def upgrade() -> None:
    _principals()
    _policies()
    _credentials()


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
