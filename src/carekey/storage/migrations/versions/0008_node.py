"""Demographic edits merged per field at sync, and tasks that go back to a site node (issue 19, docs/sync.md): a possible duplicate found by the central enrollment
of an offline capture, or a capture to make again, shown at the person's next visit on the node.

Revision ID: 0008_node
Revises: 0007_node
Create Date: 2026-11-30 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_node"
down_revision = "0007_node"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_tasks",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("person_id", sa.String(12), nullable=False),
        sa.Column("capture_id", sa.String(40), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolution", sa.String(40), nullable=True),
        sa.Column("resolved_by", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_sync_tasks_person_id_people", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sync_tasks"),
    )
    op.create_index("ix_sync_tasks_person_id", "sync_tasks", ["person_id"])
    op.create_table(
        "person_edits",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("person_id", sa.String(12), nullable=False),
        sa.Column("field", sa.String(20), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("prev", sa.Text(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("site_id", sa.String(40), nullable=True),
        sa.Column("user_id", sa.String(40), nullable=True),
        sa.Column("made_on", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_person_edits_person_id_people", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_person_edits"),
    )
    op.create_index("ix_person_edits_person_id", "person_edits", ["person_id"])
    op.create_table(
        "node_disclosures",
        sa.Column("node_id", sa.String(40), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("person_id", sa.String(12), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["sync_nodes.id"], name="fk_node_disclosures_node_id_sync_nodes"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_node_disclosures_person_id_people", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node_id", "idx", name="pk_node_disclosures"),
    )
    op.create_index("ix_node_disclosures_person_id", "node_disclosures", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_node_disclosures_person_id", "node_disclosures")
    op.drop_table("node_disclosures")
    op.drop_index("ix_person_edits_person_id", "person_edits")
    op.drop_table("person_edits")
    op.drop_index("ix_sync_tasks_person_id", "sync_tasks")
    op.drop_table("sync_tasks")
