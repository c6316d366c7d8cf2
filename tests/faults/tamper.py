"""What an attacker with write access to the database (not to the heads file, not to a witness) does to the log."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from carekey.audit import leaf
from carekey.audit.merkle import MerkleLog
from carekey.storage.sql.log_tree import SqlNodeStore
from carekey.storage.sql.tables import access_log, log_nodes, tree_heads


def log_size(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(access_log)).scalar_one())


def cut_tail(engine: sa.Engine, n: int) -> int:
    """Delete the last ``n`` entries, the tree nodes covering them and every head of a tree that held them."""
    cut = log_size(engine) - n
    assert cut > 0
    with engine.begin() as conn:
        conn.execute(sa.delete(access_log).where(access_log.c.seq >= cut))
        rows = conn.execute(sa.select(log_nodes.c.level, log_nodes.c.idx)).all()
        for level, idx in rows:
            if (idx + 1) << level > cut:
                conn.execute(sa.delete(log_nodes).where(log_nodes.c.level == level, log_nodes.c.idx == idx))
        conn.execute(sa.delete(tree_heads).where(tree_heads.c.tree_size > cut))
    return cut


def drop_heads(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(tree_heads))


def rebuild_nodes(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(log_nodes))
        leaves = [d for (d,) in conn.execute(sa.select(access_log.c.leaf_input).order_by(access_log.c.seq))]
        MerkleLog(SqlNodeStore(conn)).extend(leaves)


def rewrite_entry(uow_factory, engine: sa.Engine, seq: int) -> None:
    """Give entry ``seq`` another outcome with a fresh salt and a matching commitment, rebuild every node, and
    drop the database's heads (which no longer match; the attacker cannot re-sign without the log key)."""
    with uow_factory() as uow:
        (entry,) = uow.access_log.entries(seq, seq + 1)
    event = dataclasses.replace(
        entry.event, outcome="denied" if entry.event.outcome != "denied" else "granted", reason="rewritten"
    )
    salt = leaf.new_salt()
    with engine.begin() as conn:
        conn.execute(
            sa.update(access_log)
            .where(access_log.c.seq == seq)
            .values(
                outcome=event.outcome,
                reason=event.reason,
                salt=salt,
                leaf_input=leaf.leaf_input(event.leaf_event(), salt),
            )
        )
    rebuild_nodes(engine)
    drop_heads(engine)
