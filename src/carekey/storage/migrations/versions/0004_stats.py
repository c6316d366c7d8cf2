"""Reporting periods on the privacy budget ledger; the released (noisy) statistics and their DHIS2 push.

Revision ID: 0004_stats
Revises: 0004_fhir
Create Date: 2026-11-29 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_stats"
down_revision = "0004_fhir"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("privacy_spends", schema=None) as batch_op:
        batch_op.add_column(sa.Column("period", sa.String(length=8), nullable=True))
        batch_op.create_index("ix_privacy_spends_program_period", ["program_id", "period"], unique=False)
    op.create_table(
        "stats_releases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("statistic", sa.String(length=40), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_releases")),
    )
    with op.batch_alter_table("stats_releases", schema=None) as batch_op:
        batch_op.create_index("ix_stats_releases_program_period", ["program_id", "period"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stats_releases", schema=None) as batch_op:
        batch_op.drop_index("ix_stats_releases_program_period")
    op.drop_table("stats_releases")
    with op.batch_alter_table("privacy_spends", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_spends_program_period")
        batch_op.drop_column("period")
