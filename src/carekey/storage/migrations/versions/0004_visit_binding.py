"""Visit binding and account approval: the people a visit may reach (offered by its own lookups or enrolled in
it), who changed and who approved each staff account, and an index for per-site search limits.

Existing accounts are kept working: they are marked approved by ``migration-0004`` (they were created under the
earlier rules); every account created or changed from now on needs a second person's approval.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visit_offers",
        sa.Column("visit_id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=12), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_visit_offers_person_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_visit_offers_visit_id_visits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("visit_id", "person_id", name=op.f("pk_visit_offers")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changed_by", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("approved_by", sa.String(length=40), nullable=True))
    op.execute("UPDATE users SET approved_by = 'migration-0004'")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_site_at", ["site_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_access_log_site_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("approved_by")
        batch_op.drop_column("changed_by")
    op.drop_table("visit_offers")
