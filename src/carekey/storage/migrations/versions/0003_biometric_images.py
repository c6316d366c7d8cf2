"""Enrollment images kept at the person's request (consent biometric_image_retention), sealed under the
person's data key and linked to the template last extracted from them (renewal after a key rotation).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 17:58:15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "biometric_images",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=12), nullable=False),
        sa.Column("template_id", sa.String(length=40), nullable=True),
        sa.Column("modality", sa.String(length=20), nullable=False),
        sa.Column("position", sa.String(length=40), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_biometric_images_person_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["biometric_templates.id"],
            name=op.f("fk_biometric_images_template_id_biometric_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_biometric_images")),
    )
    with op.batch_alter_table("biometric_images", schema=None) as batch_op:
        batch_op.create_index("ix_biometric_images_key_version", ["key_version"], unique=False)
        batch_op.create_index(batch_op.f("ix_biometric_images_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("biometric_images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_biometric_images_person_id"))
        batch_op.drop_index("ix_biometric_images_key_version")

    op.drop_table("biometric_images")
