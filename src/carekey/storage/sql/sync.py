"""Sync storage (issue 19, docs/sync.md): the change feed (both sides), registered nodes, applied batches, request
nonces, holdings and node logs (central), the node's own state and outbox (node).

The feed is written by the repositories of people, consents and exams in the transaction of the change itself
(``note_change``), like the template feed; ``SqlSyncRepository.set_origin`` names, for the rest of the unit of work,
where its changes came from (a node's push, or "central" on a node applying a pull), so that a change is never sent
back to where it came from. The origin lives in the connection's ``info`` for the unit of work and is cleared when
the unit of work ends (``clear_origin``).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carekey.domain.sync import canonical
from carekey.domain.visit import Visit
from carekey.errors import msg
from carekey.storage.protocols import CaptureRow, EditRow, FeedRow, NodeRow, NodeStateRow, OutboxRow, TaskRow
from carekey.storage.sql._util import conflict_on_duplicate, utc
from carekey.storage.sql.tables import (
    node_captures,
    node_disclosures,
    node_outbox,
    node_state,
    person_edits,
    sync_batches,
    sync_captures,
    sync_feed,
    sync_holdings,
    sync_node_log,
    sync_nodes,
    sync_nonces,
    sync_tasks,
    visits,
)

ORIGIN = "carekey_sync_origin"
_NODE_FIELDS = [c.name for c in sync_nodes.columns]
_STATE_FIELDS = [c.name for c in node_state.columns if c.name != "id"]
#: engines known to hold no node state (a central registry): ``authorize`` asks on every decision
_NOT_A_NODE: weakref.WeakSet[Engine] = weakref.WeakSet()


_NOTE = insert(sync_feed)  # built once: a hot statement (every exam, consent and person write; load_profile.md)


def note_change(conn: Connection, person_id: str, kind: str = "upsert") -> None:
    """A change to ``person_id``'s record, in the feed (called by the repositories, in the change's transaction)."""
    conn.execute(
        _NOTE, {"person_id": person_id, "kind": kind, "origin": conn.info.get(ORIGIN), "at": datetime.now(UTC)}
    )


def note_erasure(conn: Connection, person_id: str) -> None:
    """An erasure: the person's earlier feed rows go; the erasure itself enters the feed only where it must travel
    (a central registry whose nodes hold the person, or a node that erased them itself), so that a registry with no
    node holding the person keeps no trace of their id (``tests/faults/test_secure_delete.py``)."""
    conn.execute(delete(sync_feed).where(sync_feed.c.person_id == person_id, sync_feed.c.kind == "upsert"))
    held = conn.execute(select(sync_holdings.c.node_id).where(sync_holdings.c.person_id == person_id)).first()
    local_on_node = conn.info.get(ORIGIN) is None and conn.execute(select(node_state.c.id)).first() is not None
    if held is not None or local_on_node:
        note_change(conn, person_id, "erase")
    _forget_in_answers(conn, person_id)


def _forget_in_answers(conn: Connection, person_id: str) -> None:
    """An applied batch's stored answer (kept to acknowledge a retry again) names the people sent back for review:
    an erased person's id leaves it (a retried batch is acknowledged without them)."""
    found = conn.execute(
        select(sync_batches.c.node_id, sync_batches.c.seq, sync_batches.c.answer).where(
            sync_batches.c.answer.contains(person_id, autoescape=True)
        )
    ).fetchall()
    for node_id, seq, answer in found:
        data = json.loads(answer)
        data["review"] = [x for x in data.get("review", []) if x != person_id]
        conn.execute(
            update(sync_batches)
            .where(sync_batches.c.node_id == node_id, sync_batches.c.seq == seq)
            .values(answer=canonical(data).decode())
        )


def clear_origin(conn: Connection) -> None:
    conn.info.pop(ORIGIN, None)


def _node(r) -> NodeRow:
    d = {f: getattr(r, f) for f in _NODE_FIELDS}
    d["registered_at"], d["revoked_at"], d["last_sync_at"] = (
        utc(d["registered_at"]),
        utc(d["revoked_at"]),
        utc(d["last_sync_at"]),
    )
    d["log_root"] = None if d["log_root"] is None else bytes(d["log_root"])
    return NodeRow(**d)


class SqlSyncRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def _upsert(self, table, values: dict, keys: list[str]) -> None:
        ins = (pg_insert if self._c.dialect.name == "postgresql" else sqlite_insert)(table)
        self._c.execute(ins.values(**values).on_conflict_do_nothing(index_elements=keys))

    # -- the feed ---------------------------------------------------------------------------------------------
    def set_origin(self, origin: str | None) -> None:
        if origin is None:
            clear_origin(self._c)
        else:
            self._c.info[ORIGIN] = origin

    def feed_head(self) -> int:
        return int(self._c.execute(select(func.coalesce(func.max(sync_feed.c.seq), 0))).scalar_one())

    def feed(self, after: int, limit: int) -> list[FeedRow]:
        q = select(sync_feed).where(sync_feed.c.seq > after).order_by(sync_feed.c.seq).limit(limit)
        return [FeedRow(r.seq, r.person_id, r.kind, r.origin, utc(r.at)) for r in self._c.execute(q)]

    def drop_feed(self, person_id: str, kind: str) -> None:
        self._c.execute(delete(sync_feed).where(sync_feed.c.person_id == person_id, sync_feed.c.kind == kind))

    def drop_erasures_until(self, seq: int) -> None:
        self._c.execute(delete(sync_feed).where(sync_feed.c.kind == "erase", sync_feed.c.seq <= seq))

    # -- central: nodes ---------------------------------------------------------------------------------------
    def add_node(self, row: NodeRow) -> None:
        with conflict_on_duplicate(lambda: msg("a node %(node)s is already registered", node=row.id)):
            self._c.execute(insert(sync_nodes).values(**{f: getattr(row, f) for f in _NODE_FIELDS}))

    def get_node(self, node_id: str) -> NodeRow | None:
        r = self._c.execute(select(sync_nodes).where(sync_nodes.c.id == node_id)).first()
        return _node(r) if r else None

    def lock_node(self, node_id: str) -> NodeRow | None:
        r = self._c.execute(select(sync_nodes).where(sync_nodes.c.id == node_id).with_for_update()).first()
        return _node(r) if r else None

    def save_node(self, row: NodeRow) -> None:
        values = {f: getattr(row, f) for f in _NODE_FIELDS if f != "id"}
        self._c.execute(update(sync_nodes).where(sync_nodes.c.id == row.id).values(**values))

    def list_nodes(self) -> list[NodeRow]:
        return [_node(r) for r in self._c.execute(select(sync_nodes).order_by(sync_nodes.c.id))]

    def pending_nodes(self, site_id: str) -> list[NodeRow]:
        q = select(sync_nodes).where(sync_nodes.c.site_id == site_id, sync_nodes.c.status == "pending")
        return [_node(r) for r in self._c.execute(q.order_by(sync_nodes.c.registered_at))]

    def use_nonce(self, node_id: str, nonce: str, at: datetime, forget_before: datetime) -> bool:
        self._c.execute(delete(sync_nonces).where(sync_nonces.c.at < forget_before))
        seen = self._c.execute(
            select(sync_nonces.c.nonce).where(sync_nonces.c.node_id == node_id, sync_nonces.c.nonce == nonce)
        ).first()
        if seen is not None:
            return False
        self._c.execute(insert(sync_nonces).values(node_id=node_id, nonce=nonce, at=at))
        return True

    def batch(self, node_id: str, seq: int) -> tuple[str, str] | None:
        r = self._c.execute(
            select(sync_batches.c.hash, sync_batches.c.answer).where(
                sync_batches.c.node_id == node_id, sync_batches.c.seq == seq
            )
        ).first()
        return None if r is None else (r.hash, r.answer)

    def add_batch(self, node_id: str, seq: int, hash: str, at: datetime, answer: str) -> None:
        self._c.execute(insert(sync_batches).values(node_id=node_id, seq=seq, hash=hash, applied_at=at, answer=answer))

    def hold(self, node_id: str, person_id: str) -> None:
        self._upsert(sync_holdings, {"node_id": node_id, "person_id": person_id}, ["node_id", "person_id"])

    def holds(self, node_id: str, person_id: str) -> bool:
        q = select(sync_holdings.c.node_id).where(
            sync_holdings.c.node_id == node_id, sync_holdings.c.person_id == person_id
        )
        return self._c.execute(q).first() is not None

    def release(self, node_id: str, person_id: str) -> None:
        self._c.execute(
            delete(sync_holdings).where(sync_holdings.c.node_id == node_id, sync_holdings.c.person_id == person_id)
        )

    def holders(self, person_id: str) -> list[str]:
        q = select(sync_holdings.c.node_id).where(sync_holdings.c.person_id == person_id).order_by("node_id")
        return [r[0] for r in self._c.execute(q)]

    def held_by(self, node_id: str) -> list[str]:
        q = select(sync_holdings.c.person_id).where(sync_holdings.c.node_id == node_id).order_by("person_id")
        return [r[0] for r in self._c.execute(q)]

    def erased_at_or_before(self, person_id: str, seq: int) -> bool:
        q = select(sync_feed.c.seq).where(
            sync_feed.c.person_id == person_id, sync_feed.c.kind == "erase", sync_feed.c.seq <= seq
        )
        return self._c.execute(q.limit(1)).first() is not None

    def node_leaves(self, node_id: str) -> list[bytes]:
        q = select(sync_node_log.c.leaf_input).where(sync_node_log.c.node_id == node_id).order_by(sync_node_log.c.idx)
        return [bytes(r[0]) for r in self._c.execute(q)]

    def add_node_leaves(self, node_id: str, start: int, leaves: Sequence[bytes]) -> None:
        if leaves:
            self._c.execute(
                insert(sync_node_log),
                [{"node_id": node_id, "idx": start + i, "leaf_input": leaf} for i, leaf in enumerate(leaves)],
            )

    # -- node side --------------------------------------------------------------------------------------------
    def node_state(self) -> NodeStateRow | None:
        engine = self._c.engine
        if engine in _NOT_A_NODE:
            return None
        r = self._c.execute(select(node_state).where(node_state.c.id == "node")).first()
        if r is None:
            _NOT_A_NODE.add(engine)
            return None
        d = {f: getattr(r, f) for f in _STATE_FIELDS}
        d["last_sync_at"], d["created_at"] = utc(d["last_sync_at"]), utc(d["created_at"])
        return NodeStateRow(**d)

    def save_node_state(self, row: NodeStateRow) -> None:
        values = {f: getattr(row, f) for f in _STATE_FIELDS}
        _NOT_A_NODE.discard(self._c.engine)
        if self._c.execute(select(node_state.c.id).where(node_state.c.id == "node")).first() is None:
            self._c.execute(insert(node_state).values(id="node", **values))
        else:
            self._c.execute(update(node_state).where(node_state.c.id == "node").values(**values))

    def add_outbox(self, row: OutboxRow) -> None:
        self._c.execute(
            insert(node_outbox).values(seq=row.seq, hash=row.hash, body=row.body, created_at=row.created_at)
        )

    def outbox(self) -> list[OutboxRow]:
        q = select(node_outbox).where(node_outbox.c.acked_at.is_(None)).order_by(node_outbox.c.seq)
        return [OutboxRow(r.seq, r.hash, bytes(r.body), utc(r.created_at)) for r in self._c.execute(q)]

    def ack_outbox(self, seq: int, at: datetime) -> None:
        # an acknowledged batch keeps its hash (the chain), never its body (records opened for the wire)
        self._c.execute(update(node_outbox).where(node_outbox.c.seq == seq).values(acked_at=at, body=b""))

    def visits_of(self, person_id: str) -> list[Visit]:
        from carekey.storage.sql.visits import _visit

        q = select(visits).where(visits.c.person_id == person_id).order_by(visits.c.opened_at, visits.c.id)
        return [_visit(r) for r in self._c.execute(q)]

    def add_capture(self, row: CaptureRow) -> None:
        self._c.execute(insert(node_captures).values(**_capture_values(row)))

    def take_captures(self) -> list[CaptureRow]:
        rows = [_capture(r) for r in self._c.execute(select(node_captures).order_by(node_captures.c.captured_at))]
        self._c.execute(delete(node_captures).where(node_captures.c.id.in_([r.id for r in rows])))
        return rows

    def receive_capture(self, node_id: str, row: CaptureRow, at: datetime) -> None:
        values = _capture_values(row) | {"node_id": node_id, "received_at": at}
        self._upsert(sync_captures, values, ["id"])

    def drop_captures(self, person_id: str) -> int:
        """The person's offline captures, waiting on a node or received centrally (a withdrawal, an erasure)."""
        n = self._c.execute(delete(node_captures).where(node_captures.c.person_id == person_id)).rowcount
        return n + self._c.execute(delete(sync_captures).where(sync_captures.c.person_id == person_id)).rowcount

    def received_captures(self) -> list[tuple[str, CaptureRow]]:
        q = select(sync_captures).order_by(sync_captures.c.received_at, sync_captures.c.id)
        return [(r.node_id, _capture(r)) for r in self._c.execute(q)]

    def received_capture(self, capture_id: str) -> tuple[str, CaptureRow] | None:
        r = self._c.execute(select(sync_captures).where(sync_captures.c.id == capture_id)).first()
        return None if r is None else (r.node_id, _capture(r))

    def drop_capture(self, capture_id: str) -> None:
        self._c.execute(delete(sync_captures).where(sync_captures.c.id == capture_id))

    # -- tasks for a node's next visit (both sides; they travel in the person's snapshot) -------------------------
    def save_task(self, row: TaskRow) -> None:
        values = {c.name: getattr(row, c.name) for c in sync_tasks.columns}
        if self._c.execute(select(sync_tasks.c.id).where(sync_tasks.c.id == row.id)).first() is None:
            self._c.execute(insert(sync_tasks).values(**values))
        else:
            self._c.execute(update(sync_tasks).where(sync_tasks.c.id == row.id).values(**values))
        note_change(self._c, row.person_id)

    def add_disclosure(self, node_id: str, idx: int, person_id: str, sealed: bytes) -> None:
        values = {"node_id": node_id, "idx": idx, "person_id": person_id, "sealed": sealed}
        self._upsert(node_disclosures, values, ["node_id", "idx"])

    def disclosures_of(self, person_id: str) -> list[tuple[str, int, bytes]]:
        q = select(node_disclosures).where(node_disclosures.c.person_id == person_id)
        rows = self._c.execute(q.order_by(node_disclosures.c.node_id, node_disclosures.c.idx))
        return [(r.node_id, r.idx, bytes(r.sealed)) for r in rows]

    def add_edit(self, row: EditRow) -> None:
        self._c.execute(insert(person_edits).values(**{c.name: getattr(row, c.name) for c in person_edits.columns}))
        note_change(self._c, row.person_id)

    def edits_of(self, person_id: str) -> list[EditRow]:
        q = select(person_edits).where(person_edits.c.person_id == person_id)
        rows = self._c.execute(q.order_by(person_edits.c.at, person_edits.c.id))
        return [
            EditRow(
                r.id,
                r.person_id,
                r.field,
                bytes(r.ciphertext),
                r.prev,
                utc(r.at),
                r.site_id,
                r.user_id,
                r.made_on,
            )
            for r in rows
        ]

    def open_tasks(self, kind: str) -> list[TaskRow]:
        q = select(sync_tasks.c.person_id).where(sync_tasks.c.kind == kind, sync_tasks.c.resolved_at.is_(None))
        pids = sorted({r[0] for r in self._c.execute(q)})
        return [t for pid in pids for t in self.tasks_of(pid) if t.kind == kind and t.resolved_at is None]

    def tasks_of(self, person_id: str) -> list[TaskRow]:
        q = select(sync_tasks).where(sync_tasks.c.person_id == person_id)
        rows = self._c.execute(q.order_by(sync_tasks.c.created_at, sync_tasks.c.id))
        return [
            TaskRow(
                r.id,
                r.person_id,
                r.capture_id,
                r.kind,
                r.detail,
                utc(r.created_at),
                utc(r.resolved_at),
                r.resolution,
                r.resolved_by,
            )
            for r in rows
        ]


def _capture_values(row: CaptureRow) -> dict:
    return {
        "id": row.id,
        "person_id": row.person_id,
        "visit_id": row.visit_id,
        "modality": row.modality,
        "position": row.position,
        "captured_by": row.captured_by,
        "captured_at": row.captured_at,
        "sealed": row.sealed,
    }


def _capture(r) -> CaptureRow:
    return CaptureRow(
        r.id, r.person_id, r.visit_id, r.modality, r.position, r.captured_by, utc(r.captured_at), bytes(r.sealed)
    )
