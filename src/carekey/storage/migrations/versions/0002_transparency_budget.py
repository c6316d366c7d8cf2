"""Transparency log tree (perfect nodes), signed tree heads, privacy budget ledger; patient-portal consents.

Existing access-log entries are hashed into the tree here, so a data folder from before this revision
gets a complete Merkle tree over its whole log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from carekey.audit.merkle import MerkleLog

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_log_nodes")),
    )
    op.create_table(
        "tree_heads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tree_size", sa.Integer(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tree_heads")),
    )
    with op.batch_alter_table("tree_heads", schema=None) as batch_op:
        batch_op.create_index("ix_tree_heads_size", ["tree_size"], unique=False)
    op.create_table(
        "privacy_spends",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_spends")),
    )
    with op.batch_alter_table("privacy_spends", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_spends_program_id"), ["program_id"], unique=False)
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.alter_column("site_id", existing_type=sa.String(length=40), nullable=True)
        batch_op.alter_column("user_id", existing_type=sa.String(length=40), nullable=True)
    _backfill_tree()


def _backfill_tree() -> None:
    """Hash the entries logged before this revision into the tree (in memory, then one bulk insert)."""
    conn = op.get_bind()
    log = MerkleLog()
    for (data,) in conn.execute(sa.text("SELECT leaf_input FROM access_log ORDER BY seq")):
        log.append(bytes(data))
    if log.size:
        rows, level = [], 0
        while True:
            count = log.size >> level
            if count == 0:
                break
            rows += [{"level": level, "idx": i, "hash": log.store.get(level, i)} for i in range(count)]
            level += 1
        conn.execute(sa.text("INSERT INTO log_nodes (level, idx, hash) VALUES (:level, :idx, :hash)"), rows)


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column("site_id", existing_type=sa.String(length=40), nullable=False)
    with op.batch_alter_table("privacy_spends", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_spends_program_id"))
    op.drop_table("privacy_spends")
    with op.batch_alter_table("tree_heads", schema=None) as batch_op:
        batch_op.drop_index("ix_tree_heads_size")
    op.drop_table("tree_heads")
    op.drop_table("log_nodes")
