"""The access log table: one row per access decision.

An append inserts the row under a database-generated ``id`` and takes no lock: concurrent requests append in
parallel. The integrator (``integrate``, run by ``carekey.services.transparency`` under the short log lock)
later gives committed entries their leaf index ``seq`` (contiguous from 0, in ``id`` order among the entries it
finds) and hashes them into the Merkle tree in the same transaction, so the tree and the integrated entries
never disagree after a commit. ``leaf_input`` (carekey.audit.leaf) never changes once written; the event
fields and salt beside it let the person see and prove each access to their data; the promise columns hold the
signed entry promise (carekey.audit.promise) given when the entry was appended.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update

from carekey.audit.leaf import leaf_hash
from carekey.audit.merkle import MerkleLog
from carekey.audit.promise import EntryPromise, PromiseSigner
from carekey.domain.access import AccessEvent
from carekey.errors import IntegrityError
from carekey.storage.protocols import LogEntry
from carekey.storage.sql._util import utc
from carekey.storage.sql.engine import lock_log, lock_names
from carekey.storage.sql.log_tree import BatchNodeStore, SqlNodeStore
from carekey.storage.sql.tables import access_log as t

# hot statements built once (reused statement objects skip rebuilding and cache-key generation; load_profile.md)
_APPEND = insert(t).returning(t.c.id)
_PROMISE = (
    update(t)
    .where(t.c.id == bindparam("entry_id"))
    .values(
        promised_ms=bindparam("p_ms"),
        promise_delay_ms=bindparam("p_delay"),
        promise_sig=bindparam("p_sig"),
        promise_key=bindparam("p_key"),
    )
)
_COUNT_ACTOR = (
    select(func.count())
    .select_from(t)
    .where(
        t.c.actor_id == bindparam("actor_id"),
        t.c.action.in_(bindparam("actions", expanding=True)),
        t.c.at >= bindparam("since"),
    )
)
_COUNT_SITE = (
    select(func.count())
    .select_from(t)
    .where(
        t.c.site_id == bindparam("site_id"),
        t.c.action.in_(bindparam("actions", expanding=True)),
        t.c.at >= bindparam("since"),
    )
)


def _entry(r) -> LogEntry:
    event = AccessEvent(
        at=utc(r.at),
        actor_id=r.actor_id,
        role=r.role,
        site_id=r.site_id,
        purpose=r.purpose,
        action=r.action,
        outcome=r.outcome,
        reason=r.reason,
        person_id=r.person_id,
        seq=r.seq,
    )
    return LogEntry(event, bytes(r.salt) if r.salt is not None else None, bytes(r.leaf_input), int(r.id), _promise(r))


def _promise(r) -> EntryPromise | None:
    if r.promise_sig is None:
        return None
    return EntryPromise(
        int(r.id),
        leaf_hash(bytes(r.leaf_input)),
        int(r.promised_ms),
        int(r.promise_delay_ms),
        bytes(r.promise_sig),
        bytes.fromhex(r.promise_key),
    )


# the integrator's statements, built once (it runs every second; see carekey.storage.sql.log_tree)
_PENDING = select(func.count()).select_from(t).where(t.c.seq.is_(None))
_OLDEST_PENDING = select(func.min(t.c.promised_ms)).where(t.c.seq.is_(None))
_SIZE = select(func.coalesce(func.max(t.c.seq) + 1, 0))


class SqlAccessLogRepository:
    def __init__(self, conn: Connection, promises: PromiseSigner | None = None) -> None:
        self._c = conn
        self.promises = promises  # signs entry promises; None: entries are appended without one (tests, tools)
        self.uncommitted: list[EntryPromise] = []  # promises of this transaction's entries, published at commit

    def tree(self) -> MerkleLog:
        return MerkleLog(SqlNodeStore(self._c))

    def append(self, event: AccessEvent, salt: bytes, leaf_input: bytes) -> EntryPromise | int:
        """Insert the row (no lock; ``seq`` is assigned at integration) in the caller's transaction, with its
        signed entry promise. Returns the promise (the entry id when no promise signer is configured)."""
        entry_id = int(
            self._c.execute(
                _APPEND,
                {
                    "at": event.at,
                    "month": event.month,
                    "actor_id": event.actor_id,
                    "role": event.role,
                    "site_id": event.site_id,
                    "purpose": event.purpose,
                    "action": event.action,
                    "outcome": event.outcome,
                    "reason": event.reason,
                    "person_id": event.person_id,
                    "salt": salt,
                    "leaf_input": leaf_input,
                },
            ).scalar_one()
        )
        if self.promises is None:
            return entry_id
        promise = self.promises.promise(entry_id, leaf_input, int(event.at.timestamp() * 1000))
        self._c.execute(
            _PROMISE,
            {
                "entry_id": entry_id,
                "p_ms": promise.timestamp_ms,
                "p_delay": promise.max_delay_ms,
                "p_sig": promise.signature,
                "p_key": promise.key_id.hex(),
            },
        )
        self.uncommitted.append(promise)
        return promise

    def lock_integration(self, wait: bool = True) -> bool:
        """The integrator's lock, to the end of this transaction (False: another integrator holds it)."""
        return lock_log(self._c, wait)

    def integrate(self, limit: int) -> int:
        """Under ``lock_integration``: give up to ``limit`` committed, not yet integrated entries their leaf
        index (in id order) and hash them into the tree, in this transaction. Returns how many. Refuses
        (IntegrityError) when the integrated entries and the tree disagree (a cut or rewritten log)."""
        store = SqlNodeStore(self._c)
        size = self.size()
        if store.leaf_count() != size:
            raise IntegrityError(
                f"the access log has {size} integrated entries but its Merkle tree "
                f"{store.leaf_count()} leaves; run carekey log verify",
                log_size=size,
                tree_size=store.leaf_count(),
            )
        rows = self._c.execute(
            select(t.c.id, t.c.leaf_input).where(t.c.seq.is_(None)).order_by(t.c.id).limit(limit)
        ).all()
        if not rows:
            return 0
        batch = BatchNodeStore(store)
        tree = MerkleLog(batch)
        for _, data in rows:
            tree.append(bytes(data))
        batch.flush()
        self._c.execute(
            update(t).where(t.c.id == bindparam("entry_id")).values(seq=bindparam("leaf_index")),
            [{"entry_id": int(r.id), "leaf_index": size + k} for k, r in enumerate(rows)],
        )
        return len(rows)

    def pending(self) -> int:
        """Committed entries not yet integrated into the tree."""
        return int(self._c.execute(_PENDING).scalar_one())

    def oldest_pending_ms(self) -> int | None:
        """The promised time of the oldest entry still waiting for integration (None when none waits)."""
        value = self._c.execute(_OLDEST_PENDING).scalar()
        return None if value is None else int(value)

    def promised(self, start_id: int, limit: int) -> list[LogEntry]:
        """Entries in id order from ``start_id`` (integrated or not), for checking their promises."""
        q = select(t).where(t.c.id >= start_id).order_by(t.c.id).limit(limit)
        return [_entry(r) for r in self._c.execute(q)]

    def lock_limits(self, actor_id: str | None, site_id: str | None) -> None:
        """Lock this actor and this site (to the end of the transaction) for a count that must stay true until
        this transaction's append: parallel searches by one account or at one site cannot all pass a limit,
        while other accounts and sites go on in parallel."""
        lock_names(
            self._c,
            [n for n in (f"actor:{actor_id}" if actor_id else None, f"site:{site_id}" if site_id else None) if n],
        )

    def pseudonymize(self, person_id: str, pseudonym: str) -> int:
        """On erasure: the person's rows (as subject, or as actor in the patient portal) name ``pseudonym`` instead
        of their id, and lose their salt. The leaf
        stays unchanged (the Merkle tree and every signed head still verify); it was a salted commitment to the
        event with the id, and without the salt nobody can test a guessed id against it any more."""
        rows = self._c.execute(
            update(t).where(t.c.person_id == person_id).values(person_id=pseudonym, salt=None)
        ).rowcount
        # in the patient portal the person is also the actor
        rows += self._c.execute(
            update(t).where(t.c.actor_id == person_id).values(actor_id=pseudonym, salt=None)
        ).rowcount
        return rows

    def leaves(self) -> list[tuple[int, bytes]]:
        """(seq, leaf_input) of the integrated entries, in seq order."""
        return [
            (int(r.seq), bytes(r.leaf_input))
            for r in self._c.execute(select(t.c.seq, t.c.leaf_input).where(t.c.seq.is_not(None)).order_by(t.c.seq))
        ]

    def size(self) -> int:
        return int(self._c.execute(_SIZE).scalar_one())

    def entries(self, start: int, end: int) -> list[LogEntry]:
        q = select(t).where(t.c.seq >= start, t.c.seq < end).order_by(t.c.seq)
        return [_entry(r) for r in self._c.execute(q)]

    def for_person(self, person_id: str) -> list[LogEntry]:
        """Every entry naming the person, integrated or not, in the order they were appended."""
        return [_entry(r) for r in self._c.execute(select(t).where(t.c.person_id == person_id).order_by(t.c.id))]

    def latest(self, count: int = 1) -> list[LogEntry]:
        """The last ``count`` entries appended (integrated or not), oldest first."""
        rows = self._c.execute(select(t).order_by(t.c.id.desc()).limit(count)).all()
        return [_entry(r) for r in reversed(rows)]

    def count_since(self, actor_id: str, actions: Sequence[str], since: datetime) -> int:
        # every attempt counts, empty or refused
        return int(
            self._c.execute(_COUNT_ACTOR, {"actor_id": actor_id, "actions": list(actions), "since": since}).scalar_one()
        )

    def count_site_since(self, site_id: str, actions: Sequence[str], since: datetime) -> int:
        """Every attempt (granted, denied, refused) of these actions at a site: the per-site enumeration bound."""
        return int(
            self._c.execute(_COUNT_SITE, {"site_id": site_id, "actions": list(actions), "since": since}).scalar_one()
        )

    def count_person_since(self, person_id: str, actions: Sequence[str], outcome: str, since: datetime) -> int:
        q = (
            select(func.count())
            .select_from(t)
            .where(t.c.person_id == person_id, t.c.action.in_(actions), t.c.outcome == outcome, t.c.at >= since)
        )
        return int(self._c.execute(q).scalar_one())

    def admin_counts(self) -> list[tuple[str, str, int]]:
        q = (
            select(t.c.action, t.c.month, func.count())
            .where(t.c.outcome == "granted", t.c.purpose == "administration")
            .group_by(t.c.action, t.c.month)
            .order_by(t.c.month, t.c.action)
        )
        return [(r[0], r[1], int(r[2])) for r in self._c.execute(q)]

    def refusal_counts(self) -> list[tuple[str, str, int]]:
        q = (
            select(t.c.purpose, t.c.month, func.count())
            .where(t.c.outcome == "refused")
            .group_by(t.c.purpose, t.c.month)
            .order_by(t.c.month, t.c.purpose)
        )
        return [(r[0], r[1], int(r[2])) for r in self._c.execute(q)]
