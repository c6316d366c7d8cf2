"""The login limiter in the database (shared by every API worker and the CLI; atomic check-and-count).

Revision ID: 0004_log
Revises: 0004_atrest
Create Date: 2026-11-29 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_log"
down_revision = "0004_atrest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_limits",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_limits")),
    )
    with op.batch_alter_table("login_limits", schema=None) as batch_op:
        batch_op.create_index("ix_login_limits_last_seen", ["last_seen"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_limits", schema=None) as batch_op:
        batch_op.drop_index("ix_login_limits_last_seen")
    op.drop_table("login_limits")
