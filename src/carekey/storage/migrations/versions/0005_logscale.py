"""Logged writes that scale: access-log entries get a database-generated id and a signed entry promise;
``seq`` (the Merkle leaf index) is assigned later by the integrator (carekey.services.transparency).

The table is rebuilt (its primary key changes from ``seq`` to ``id``): rows are copied aside, the table is
created anew and the rows copied back with ``id = seq + 1`` (existing entries are all integrated already).

Revision ID: 0005_logscale
Revises: 0004_log
Create Date: 2026-11-29 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_logscale"
down_revision = "0004_log"
branch_labels = None
depends_on = None

_FIELDS = "at, month, actor_id, role, site_id, purpose, action, outcome, reason, person_id, salt, leaf_input"


def _indexes() -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_actor_at", ["actor_id", "at"], unique=False)
        batch_op.create_index("ix_access_log_person_id", ["person_id"], unique=False)
        batch_op.create_index("ix_access_log_refusals", ["outcome", "purpose", "month"], unique=False)
        batch_op.create_index("ix_access_log_site_at", ["site_id", "at"], unique=False)


def _common() -> list[sa.Column]:
    return [
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("person_id", sa.String(length=12), nullable=True),
        sa.Column("salt", sa.LargeBinary(), nullable=True),
        sa.Column("leaf_input", sa.LargeBinary(), nullable=False),
    ]


def upgrade() -> None:
    op.execute("CREATE TABLE _access_log_0004 AS SELECT * FROM access_log")
    op.drop_table("access_log")
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        *_common(),
        sa.Column("promised_ms", sa.BigInteger(), nullable=True),
        sa.Column("promise_delay_ms", sa.BigInteger(), nullable=True),
        sa.Column("promise_sig", sa.LargeBinary(), nullable=True),
        sa.Column("promise_key", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
        sa.UniqueConstraint("seq", name=op.f("uq_access_log_seq")),
    )
    _indexes()
    op.execute(f"INSERT INTO access_log (id, seq, {_FIELDS}) SELECT seq + 1, seq, {_FIELDS} FROM _access_log_0004")
    op.drop_table("_access_log_0004")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('access_log', 'id'), "
            "COALESCE((SELECT MAX(id) FROM access_log), 0) + 1, false)"
        )


def downgrade() -> None:
    op.execute("CREATE TABLE _access_log_0005 AS SELECT * FROM access_log WHERE seq IS NOT NULL")
    op.drop_table("access_log")
    op.create_table(
        "access_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_log")),
    )
    _indexes()
    op.execute(f"INSERT INTO access_log (seq, {_FIELDS}) SELECT seq, {_FIELDS} FROM _access_log_0005")
    op.drop_table("_access_log_0005")
