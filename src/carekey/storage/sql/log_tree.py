"""The Merkle tree of the access log (perfect nodes, ``carekey.audit.merkle.NodeStore``) and its signed heads.

Nodes are written in the same transaction as the access-log row they hash, so the tree and the log never
disagree after a commit; ``seq`` and the leaf index are the same number.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, func, insert, select

from carekey.audit.sth import SignedTreeHead, TreeHead
from carekey.storage.sql.tables import log_nodes as n
from carekey.storage.sql.tables import tree_heads as h


class SqlNodeStore:
    def __init__(self, conn: Connection) -> None:
        self._c = conn
        self._cache: dict[tuple[int, int], bytes] = {}  # nodes never change: safe to keep for this transaction

    def leaf_count(self) -> int:
        q = select(func.coalesce(func.max(n.c.idx) + 1, 0)).where(n.c.level == 0)
        return int(self._c.execute(q).scalar_one())

    def get(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self._cache:
            value = self._c.execute(select(n.c.hash).where(n.c.level == level, n.c.idx == index)).scalar()
            if value is None:
                raise KeyError(key)
            self._cache[key] = bytes(value)
        return self._cache[key]

    def add(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        self._c.execute(insert(n), [{"level": lv, "idx": i, "hash": d} for lv, i, d in nodes])


def _sth(r) -> SignedTreeHead:  # type: ignore[no-untyped-def]
    return SignedTreeHead(TreeHead(int(r.tree_size), bytes(r.root_hash), int(r.timestamp_ms)), bytes(r.signature),
                          bytes.fromhex(r.key_id))


class SqlTreeHeadRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, sth: SignedTreeHead) -> None:
        self._c.execute(insert(h).values(tree_size=sth.size, root_hash=sth.root, timestamp_ms=sth.head.timestamp_ms,
                                         signature=sth.signature, key_id=sth.key_id.hex()))

    def latest(self) -> SignedTreeHead | None:
        r = self._c.execute(select(h).order_by(h.c.id.desc()).limit(1)).first()
        return _sth(r) if r else None

    def largest(self) -> SignedTreeHead | None:
        r = self._c.execute(select(h).order_by(h.c.tree_size.desc(), h.c.id.desc()).limit(1)).first()
        return _sth(r) if r else None

    def all(self, start: int = 0, limit: int | None = None) -> list[SignedTreeHead]:
        return [_sth(r) for r in self._c.execute(select(h).order_by(h.c.id).offset(start).limit(limit))]
