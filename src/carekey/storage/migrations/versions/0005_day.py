"""Referrals (issue 18): where and why sealed under the person's key; open/closed in the clear for the follow-up list.
The staff member's UI language (users.language).

Revision ID: 0005_day
Revises: 0004_log
Create Date: 2026-11-29 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_day"
down_revision = "0005_logscale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=12), nullable=False),
        sa.Column("visit_id", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("recorded_by", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=40), nullable=True),
        sa.Column("closed_as", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["closed_by"], ["users.id"], name=op.f("fk_referrals_closed_by_users")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_referrals_person_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["recorded_by"], ["users.id"], name=op.f("fk_referrals_recorded_by_users")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_referrals_site_id_sites")),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_referrals_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index("ix_referrals_open", ["site_id", "closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_referrals_person_id"), ["person_id"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_person_id"))
        batch_op.drop_index("ix_referrals_open")

    op.drop_table("referrals")
