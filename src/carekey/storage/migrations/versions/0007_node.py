"""Offline site nodes and sync (issue 19, docs/sync.md): registered nodes, applied batches, request nonces, the
change feed, holdings, node logs (central side); the node's own sync state and outbox (node side).

Revision ID: 0007_node
Revises: 0006_lockout
Create Date: 2026-11-30 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_node"
down_revision = "0006_lockout"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_nodes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("log_public_key", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("registered_at", TS, nullable=False),
        sa.Column("approved_by", sa.String(40), nullable=True),
        sa.Column("confirmed_by", sa.String(40), nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("flag", sa.Text(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("cursor", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("log_size", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("log_root", sa.LargeBinary(), nullable=True),
        sa.Column("log_head", sa.Text(), nullable=True),
        sa.Column("last_sync_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_sync_nodes_site_id_sites"),
        sa.PrimaryKeyConstraint("id", name="pk_sync_nodes"),
    )
    op.create_table(
        "sync_batches",
        sa.Column("node_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("applied_at", TS, nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["sync_nodes.id"], name="fk_sync_batches_node_id_sync_nodes"),
        sa.PrimaryKeyConstraint("node_id", "seq", name="pk_sync_batches"),
    )
    op.create_table(
        "sync_nonces",
        sa.Column("node_id", sa.String(40), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("node_id", "nonce", name="pk_sync_nonces"),
    )
    op.create_index("ix_sync_nonces_at", "sync_nonces", ["at"])
    op.create_table(
        "sync_feed",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(12), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("origin", sa.String(40), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_sync_feed"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sync_feed_person_id", "sync_feed", ["person_id"])
    op.create_table(
        "sync_holdings",
        sa.Column("node_id", sa.String(40), nullable=False),
        sa.Column("person_id", sa.String(12), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["sync_nodes.id"], name="fk_sync_holdings_node_id_sync_nodes"),
        sa.PrimaryKeyConstraint("node_id", "person_id", name="pk_sync_holdings"),
    )
    op.create_table(
        "sync_node_log",
        sa.Column("node_id", sa.String(40), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("leaf_input", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["sync_nodes.id"], name="fk_sync_node_log_node_id_sync_nodes"),
        sa.PrimaryKeyConstraint("node_id", "idx", name="pk_sync_node_log"),
    )
    op.create_table(
        "node_state",
        sa.Column("id", sa.String(8), nullable=False),
        sa.Column("node_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("acked_seq", sa.Integer(), nullable=False),
        sa.Column("acked_hash", sa.String(64), nullable=False),
        sa.Column("feed_pushed", sa.Integer(), nullable=False),
        sa.Column("log_pushed", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("last_sync_at", TS, nullable=True),
        sa.Column("lease_days", sa.Integer(), nullable=False),
        sa.Column("capture_key", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_node_state"),
    )
    op.create_table(
        "node_outbox",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("acked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_node_outbox"),
    )

    op.create_table(
        "node_captures",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("person_id", sa.String(12), nullable=False),
        sa.Column("visit_id", sa.String(40), nullable=False),
        sa.Column("modality", sa.String(20), nullable=False),
        sa.Column("position", sa.String(40), nullable=False),
        sa.Column("captured_by", sa.String(40), nullable=False),
        sa.Column("captured_at", TS, nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_node_captures_person_id_people", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_node_captures"),
    )
    op.create_index("ix_node_captures_person_id", "node_captures", ["person_id"])
    op.create_table(
        "sync_captures",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("node_id", sa.String(40), nullable=False),
        sa.Column("person_id", sa.String(12), nullable=False),
        sa.Column("visit_id", sa.String(40), nullable=False),
        sa.Column("modality", sa.String(20), nullable=False),
        sa.Column("position", sa.String(40), nullable=False),
        sa.Column("captured_by", sa.String(40), nullable=False),
        sa.Column("captured_at", TS, nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["sync_nodes.id"], name="fk_sync_captures_node_id_sync_nodes"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_sync_captures_person_id_people", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sync_captures"),
    )
    op.create_index("ix_sync_captures_person_id", "sync_captures", ["person_id"])


def downgrade() -> None:
    for index, table in (
        ("ix_sync_captures_person_id", "sync_captures"),
        ("ix_node_captures_person_id", "node_captures"),
    ):
        op.drop_index(index, table)
        op.drop_table(table)
    for table in ("node_outbox", "node_state", "sync_node_log", "sync_holdings"):
        op.drop_table(table)
    op.drop_index("ix_sync_feed_person_id", "sync_feed")
    op.drop_table("sync_feed")
    op.drop_index("ix_sync_nonces_at", "sync_nonces")
    op.drop_table("sync_nonces")
    op.drop_table("sync_batches")
    op.drop_table("sync_nodes")
