"""Cumulative failed sign-ins per account or card (login_limits.failures): ten wrong PINs a minute, forever, no
longer stay below the lock (the red-team finding F10).

Revision ID: 0006_lockout
Revises: 0005_gallery
Create Date: 2026-11-29 22:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_lockout"
down_revision = "0005_gallery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_limits") as batch:
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("login_limits") as batch:
        batch.drop_column("failures")
