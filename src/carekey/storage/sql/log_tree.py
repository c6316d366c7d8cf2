"""The Merkle tree of the access log (perfect nodes, ``carekey.audit.merkle.NodeStore``) and its signed heads.

Nodes are written by the integrator in the same transaction that gives the access-log rows their ``seq``, so
the tree and the integrated entries never disagree after a commit; ``seq`` and the leaf index are the same number.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, func, insert, select

from carekey.audit.sth import SignedTreeHead, TreeHead
from carekey.storage.sql.tables import log_nodes as n
from carekey.storage.sql.tables import tree_heads as h

# built once: SQLAlchemy memoizes a statement's cache key, so each call only binds (the integrator reads a few
# dozen nodes per run; rebuilding the expressions was most of its time, bench/results/load_profile.md)
_LEAF_COUNT = select(func.coalesce(func.max(n.c.idx) + 1, 0)).where(n.c.level == 0)
_LATEST_HEAD = select(h).order_by(h.c.id.desc()).limit(1)
_LARGEST_HEAD = select(h).order_by(h.c.tree_size.desc(), h.c.id.desc()).limit(1)
_NODE = select(n.c.hash).where(n.c.level == bindparam("level"), n.c.idx == bindparam("idx"))


class SqlNodeStore:
    """Perfect nodes in ``log_nodes``, for one transaction: nodes read are kept (they never change), and so is the
    leaf count once read (it grows only through ``add``; the integrator holds the log lock while it writes), so one
    tree gives one consistent view however many roots and proofs are asked of it."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn
        self._cache: dict[tuple[int, int], bytes] = {}  # nodes never change: safe to keep for this transaction
        self._leaves: int | None = None

    def leaf_count(self) -> int:
        if self._leaves is None:
            self._leaves = int(self._c.execute(_LEAF_COUNT).scalar_one())
        return self._leaves

    def get(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self._cache:
            value = self._c.execute(_NODE, {"level": level, "idx": index}).scalar()
            if value is None:
                raise KeyError(key)
            self._cache[key] = bytes(value)
        return self._cache[key]

    def add(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        self._c.execute(insert(n), [{"level": lv, "idx": i, "hash": d} for lv, i, d in nodes])
        leaves = [i + 1 for lv, i, _ in nodes if lv == 0]
        if leaves and self._leaves is not None:
            self._leaves = max(self._leaves, *leaves)


class BatchNodeStore:
    """Nodes of a batch of appends kept in memory and written in one statement (``flush``)."""

    def __init__(self, base: SqlNodeStore) -> None:
        self._base = base
        self._leaves = base.leaf_count()
        self._new: dict[tuple[int, int], bytes] = {}

    def leaf_count(self) -> int:
        return self._leaves

    def get(self, level: int, index: int) -> bytes:
        found = self._new.get((level, index))
        return found if found is not None else self._base.get(level, index)

    def add(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        for level, index, digest in nodes:
            self._new[(level, index)] = digest
            if level == 0:
                self._leaves = max(self._leaves, index + 1)

    def flush(self) -> None:
        if self._new:
            self._base.add([(lv, i, d) for (lv, i), d in self._new.items()])
            self._new = {}


def _sth(r) -> SignedTreeHead:
    return SignedTreeHead(
        TreeHead(int(r.tree_size), bytes(r.root_hash), int(r.timestamp_ms)), bytes(r.signature), bytes.fromhex(r.key_id)
    )


class SqlTreeHeadRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, sth: SignedTreeHead) -> None:
        self._c.execute(
            insert(h).values(
                tree_size=sth.size,
                root_hash=sth.root,
                timestamp_ms=sth.head.timestamp_ms,
                signature=sth.signature,
                key_id=sth.key_id.hex(),
            )
        )

    def latest(self) -> SignedTreeHead | None:
        r = self._c.execute(_LATEST_HEAD).first()
        return _sth(r) if r else None

    def largest(self) -> SignedTreeHead | None:
        r = self._c.execute(_LARGEST_HEAD).first()
        return _sth(r) if r else None

    def first_covering(self, index: int) -> SignedTreeHead | None:
        """The first head signed (in signing order) over a tree that includes leaf ``index``."""
        r = self._c.execute(select(h).where(h.c.tree_size > index).order_by(h.c.id).limit(1)).first()
        return _sth(r) if r else None

    def all(self, start: int = 0, limit: int | None = None) -> list[SignedTreeHead]:
        return [_sth(r) for r in self._c.execute(select(h).order_by(h.c.id).offset(start).limit(limit))]
