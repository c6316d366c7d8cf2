"""The shred queue: key-store secrets named by a committed deletion, waiting to be destroyed.

Two-phase erasure (issue 21): the deletion and ``schedule(key_ref)`` commit together (phase 1, "mark"); then the
secret is destroyed in the key store and the queue row removed (phase 2, "destroy, finalize"). A crash in between
leaves the row, and ``carekey.storage.recovery.finish_shreds`` (at start-up, after each deletion commit, and in
``carekey retention run``) completes it; destroying an absent secret is a no-op, so every step is idempotent.
The queue never holds a person id: only the key reference, which names nothing once the person's rows are gone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select

from carekey.audit.sth import KeyRotation
from carekey.crypto.keys import SecretStore
from carekey.storage.sql.engine import DELETED
from carekey.storage.sql.tables import key_checks, log_key_rotations, pending_shreds


class SqlShredQueue:
    def __init__(self, conn: Connection) -> None:
        self._c = conn
        self.scheduled: list[str] = []  # in this transaction

    def schedule(self, key_ref: str) -> None:
        if (
            key_ref in self.scheduled
            or self._c.execute(select(pending_shreds.c.key_ref).where(pending_shreds.c.key_ref == key_ref)).first()
        ):
            return
        self._c.execute(insert(pending_shreds).values(key_ref=key_ref, marked_at=datetime.now(UTC)))
        self.scheduled.append(key_ref)

    def resume(self) -> int:
        """Recovery: treat every pending secret as scheduled by this unit of work, so that its commit finishes
        them (and checkpoints the WAL). Returns how many were pending."""
        self.scheduled = self.pending()
        self._c.info[DELETED] = True
        return len(self.scheduled)

    def pending(self) -> list[str]:
        return [r[0] for r in self._c.execute(select(pending_shreds.c.key_ref).order_by(pending_shreds.c.marked_at))]

    def done(self, key_refs: list[str]) -> None:
        if key_refs:
            self._c.execute(delete(pending_shreds).where(pending_shreds.c.key_ref.in_(key_refs)))


class SqlKeyChecks:
    """The key-check value of each key file (never a key): compared at every start (carekey.storage.keychecks)."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def all(self) -> dict[str, str]:
        return {r.name: r.value for r in self._c.execute(select(key_checks))}

    def put(self, name: str, value: str) -> None:
        self._c.execute(delete(key_checks).where(key_checks.c.name == name))
        self._c.execute(insert(key_checks).values(name=name, value=value, created_at=datetime.now(UTC)))


class SqlLogKeyRotations:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, r: KeyRotation) -> None:
        self._c.execute(
            insert(log_key_rotations).values(
                timestamp_ms=r.timestamp_ms,
                old_public_key=r.old_public_key,
                new_public_key=r.new_public_key,
                old_signature=r.old_signature,
                new_signature=r.new_signature,
            )
        )

    def all(self) -> list[KeyRotation]:
        t = log_key_rotations
        return [
            KeyRotation(
                int(r.timestamp_ms),
                bytes(r.old_public_key),
                bytes(r.new_public_key),
                bytes(r.old_signature),
                bytes(r.new_signature),
            )
            for r in self._c.execute(select(t).order_by(t.c.id))
        ]


def finish_shreds(conn: Connection, store: SecretStore) -> int:
    """Phase 2 of every pending deletion: destroy each queued secret, then drop its queue row (committed).
    Call with no transaction open on ``conn``; returns the number finished. Idempotent."""
    with conn.begin():
        refs = SqlShredQueue(conn).pending()
    if not refs:
        return 0
    for ref in refs:
        store.destroy(ref)  # irreversible; a no-op when already destroyed (a crash after this line)
    with conn.begin():
        SqlShredQueue(conn).done(refs)
    return len(refs)
