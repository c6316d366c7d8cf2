"""The FHIR push queue: one row per closed visit of a person who granted ehr_sharing (no personal data).

Revision ID: 0004_fhir
Revises: 0004
Create Date: 2026-11-29 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_fhir"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_pushes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("visit_id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=12), nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_fhir_pushes_person_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_fhir_pushes_site_id_sites")),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_fhir_pushes_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_pushes")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_fhir_pushes_visit_id")),
    )
    with op.batch_alter_table("fhir_pushes", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_pushes_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_fhir_pushes_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fhir_pushes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_pushes_person_id"))
        batch_op.drop_index("ix_fhir_pushes_due")

    op.drop_table("fhir_pushes")
