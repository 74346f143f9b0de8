"""Audit rows keyed for idempotent delivery from the spool; the shared JWT replay store.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows written before the spool keep no key (NULLs never collide in a unique index).
    op.add_column("audit", sa.Column("entry_key", sa.String(32)))
    op.create_index("uq_audit_entry_key", "audit", ["entry_key"], unique=True)
    op.create_table(
        "replay_jti",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_replay_jti_expires_at", "replay_jti", ["expires_at"])
