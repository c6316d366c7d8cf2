"""The access log table: one row per access decision, ``seq`` contiguous from 0.

``leaf_input`` (carekey.audit.leaf) never changes once written; the event fields and salt beside it
let the person see and prove each access to their data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from carekey.audit.merkle import MerkleLog
from carekey.domain.access import AccessEvent
from carekey.errors import IntegrityError
from carekey.storage.protocols import LogEntry
from carekey.storage.sql._util import utc
from carekey.storage.sql.engine import lock_log
from carekey.storage.sql.log_tree import SqlNodeStore
from carekey.storage.sql.tables import access_log as t


def _entry(r) -> LogEntry:  # type: ignore[no-untyped-def]
    event = AccessEvent(at=utc(r.at), actor_id=r.actor_id, role=r.role, site_id=r.site_id,  # type: ignore[arg-type]
                        purpose=r.purpose, action=r.action, outcome=r.outcome, reason=r.reason,
                        person_id=r.person_id, seq=r.seq)
    return LogEntry(event, bytes(r.salt) if r.salt is not None else None, bytes(r.leaf_input))


class SqlAccessLogRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def tree(self) -> MerkleLog:
        return MerkleLog(SqlNodeStore(self._c))

    def append(self, event: AccessEvent, salt: bytes, leaf_input: bytes) -> int:
        """Insert the row and hash it into the Merkle tree, in the caller's transaction."""
        lock_log(self._c)
        seq = self.size()
        tree = self.tree()
        if tree.size != seq:
            raise IntegrityError(f"the access log has {seq} entries but its Merkle tree {tree.size} leaves; "
                                 "run carekey log verify", log_size=seq, tree_size=tree.size)
        self._c.execute(insert(t).values(
            seq=seq, at=event.at, month=event.month, actor_id=event.actor_id, role=event.role, site_id=event.site_id,
            purpose=event.purpose, action=event.action, outcome=event.outcome, reason=event.reason,
            person_id=event.person_id, salt=salt, leaf_input=leaf_input))
        tree.append(leaf_input)
        return seq

    def pseudonymize(self, person_id: str, pseudonym: str) -> int:
        """On erasure: the person's rows (as subject, or as actor in the patient portal) name ``pseudonym`` instead
        of their id, and lose their salt. The leaf
        stays unchanged (the Merkle tree and every signed head still verify); it was a salted commitment to the
        event with the id, and without the salt nobody can test a guessed id against it any more."""
        rows = self._c.execute(update(t).where(t.c.person_id == person_id)
                               .values(person_id=pseudonym, salt=None)).rowcount
        # in the patient portal the person is also the actor
        rows += self._c.execute(update(t).where(t.c.actor_id == person_id)
                                .values(actor_id=pseudonym, salt=None)).rowcount
        return rows

    def leaves(self) -> list[tuple[int, bytes]]:
        return [(int(r.seq), bytes(r.leaf_input)) for r in self._c.execute(select(t.c.seq, t.c.leaf_input)
                                                                           .order_by(t.c.seq))]

    def size(self) -> int:
        return int(self._c.execute(select(func.coalesce(func.max(t.c.seq) + 1, 0))).scalar_one())

    def entries(self, start: int, end: int) -> list[LogEntry]:
        q = select(t).where(t.c.seq >= start, t.c.seq < end).order_by(t.c.seq)
        return [_entry(r) for r in self._c.execute(q)]

    def for_person(self, person_id: str) -> list[LogEntry]:
        return [_entry(r) for r in self._c.execute(select(t).where(t.c.person_id == person_id).order_by(t.c.seq))]

    def count_since(self, actor_id: str, actions: Sequence[str], since: datetime) -> int:
        q = select(func.count()).select_from(t).where(t.c.actor_id == actor_id, t.c.action.in_(actions),
                                                      t.c.at >= since)  # every attempt counts, empty or refused
        return int(self._c.execute(q).scalar_one())

    def lock(self) -> None:
        """Take the append lock now (for a count that must stay true until this transaction's append)."""
        lock_log(self._c)

    def count_site_since(self, site_id: str, actions: Sequence[str], since: datetime) -> int:
        """Every attempt (granted, denied, refused) of these actions at a site: the per-site enumeration bound."""
        q = select(func.count()).select_from(t).where(t.c.site_id == site_id, t.c.action.in_(actions),
                                                      t.c.at >= since)
        return int(self._c.execute(q).scalar_one())

    def count_person_since(self, person_id: str, actions: Sequence[str], outcome: str, since: datetime) -> int:
        q = select(func.count()).select_from(t).where(t.c.person_id == person_id, t.c.action.in_(actions),
                                                      t.c.outcome == outcome, t.c.at >= since)
        return int(self._c.execute(q).scalar_one())

    def admin_counts(self) -> list[tuple[str, str, int]]:
        q = (select(t.c.action, t.c.month, func.count())
             .where(t.c.outcome == "granted", t.c.purpose == "administration")
             .group_by(t.c.action, t.c.month).order_by(t.c.month, t.c.action))
        return [(r[0], r[1], int(r[2])) for r in self._c.execute(q)]

    def refusal_counts(self) -> list[tuple[str, str, int]]:
        q = (select(t.c.purpose, t.c.month, func.count()).where(t.c.outcome == "refused")
             .group_by(t.c.purpose, t.c.month).order_by(t.c.month, t.c.purpose))
        return [(r[0], r[1], int(r[2])) for r in self._c.execute(q)]
