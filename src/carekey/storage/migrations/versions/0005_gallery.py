"""The template change feed: one row per protected template added or deleted, which the matcher's in-memory
gallery follows across processes (issue 13).

Revision ID: 0005_gallery
Revises: 0004_log
Create Date: 2026-11-29 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_gallery"
down_revision = "0005_day"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "template_feed",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("template_id", sa.String(length=40), nullable=False),
        sa.Column("modality", sa.String(length=20), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_template_feed")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("template_feed")
