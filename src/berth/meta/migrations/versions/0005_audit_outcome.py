"""Audit outcomes up to 32 characters: ``invalid-credentials`` (19) did not fit in 16.

SQLite ignores a VARCHAR's length, so only PostgreSQL refused the row; the column is widened on
both so that they describe the same schema.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column(
            "outcome", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column(
            "outcome", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False
        )
