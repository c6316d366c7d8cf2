"""Key-check values per key file, the queue of key-store secrets to destroy after a committed deletion
(two-phase erasure), a per-person image key reference on kept images, and log key rotations.

Revision ID: 0004_atrest
Revises: 0004_stats
Create Date: 2026-11-29 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_atrest"
down_revision = "0004_stats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_checks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_key_checks")),
    )
    op.create_table(
        "pending_shreds",
        sa.Column("key_ref", sa.String(length=40), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_ref", name=op.f("pk_pending_shreds")),
    )
    op.create_table(
        "log_key_rotations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("old_public_key", sa.LargeBinary(), nullable=False),
        sa.Column("new_public_key", sa.LargeBinary(), nullable=False),
        sa.Column("old_signature", sa.LargeBinary(), nullable=False),
        sa.Column("new_signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_key_rotations")),
    )
    with op.batch_alter_table("biometric_images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_ref", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("biometric_images", schema=None) as batch_op:
        batch_op.drop_column("key_ref")
    op.drop_table("log_key_rotations")
    op.drop_table("pending_shreds")
    op.drop_table("key_checks")
