"""Background jobs: when each blob link was made (for garbage collection) and job leases.

``repository_blobs.linked_at`` is backfilled with the time of the upgrade, so every link that
exists before it gets a full grace period. ``leases`` holds the SQLite stand-in for PostgreSQL's
advisory locks: one row per named job, held by one process until it expires.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("repository_blobs", sa.Column("linked_at", _utc(), nullable=True))
    links = sa.table("repository_blobs", sa.column("linked_at", _utc()))
    op.execute(links.update().values(linked_at=datetime.now(UTC)))
    with op.batch_alter_table("repository_blobs") as batch:
        batch.alter_column("linked_at", existing_type=_utc(), nullable=False)
    op.create_index(op.f("ix_repository_blobs_linked_at"), "repository_blobs", ["linked_at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index(op.f("ix_repository_blobs_linked_at"), table_name="repository_blobs")
    with op.batch_alter_table("repository_blobs") as batch:
        batch.drop_column("linked_at")
