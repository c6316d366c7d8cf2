"""The login limiter's rows: read under a row lock, written back by the same transaction.

Atomicity: ``lock`` first inserts the key if it is new (``INSERT ... ON CONFLICT DO NOTHING``, so two first
attempts never collide), then reads it ``FOR UPDATE`` on PostgreSQL; on SQLite every carekey transaction is
``BEGIN IMMEDIATE`` (one writer), so the read-modify-write is atomic there too. Concurrent attempts on one key
are thereby counted one after the other, never both against the same old count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from carekey.storage.protocols import LimitRow
from carekey.storage.sql._util import utc
from carekey.storage.sql.tables import login_limits as t


class SqlLoginLimitRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def lock(self, key: str, now: datetime) -> LimitRow:
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        fresh = {
            "key": key,
            "window_start": now,
            "attempts": 0,
            "strikes": 0,
            "failures": 0,
            "locked_until": None,
            "last_seen": now,
        }
        self._c.execute(dialect.insert(t).values(fresh).on_conflict_do_nothing(index_elements=["key"]))
        q = select(t).where(t.c.key == key)
        if self._c.dialect.name == "postgresql":
            q = q.with_for_update()
        r = self._c.execute(q).one()
        return LimitRow(
            r.key,
            utc(r.window_start),
            r.attempts,
            r.strikes,
            utc(r.locked_until),
            utc(r.last_seen),
            r.failures,
        )

    def save(self, row: LimitRow) -> None:
        self._c.execute(
            update(t)
            .where(t.c.key == row.key)
            .values(
                window_start=row.window_start,
                attempts=row.attempts,
                strikes=row.strikes,
                failures=row.failures,
                locked_until=row.locked_until,
                last_seen=row.last_seen,
            )
        )

    def prune(self, now: datetime, idle: timedelta, keep: int) -> int:
        """Drop keys idle for ``idle`` and not locked, then the least recently used unlocked ones beyond ``keep``."""
        gone = self._c.execute(
            delete(t).where(t.c.last_seen < now - idle, (t.c.locked_until.is_(None)) | (t.c.locked_until < now))
        ).rowcount
        count = int(self._c.execute(select(func.count()).select_from(t)).scalar_one())
        if count > keep:  # a locked key is never evicted (spraying new keys must not unlock a card)
            unlocked = (t.c.locked_until.is_(None)) | (t.c.locked_until < now)
            oldest = select(t.c.key).where(unlocked).order_by(t.c.last_seen).limit(count - keep).scalar_subquery()
            gone += self._c.execute(delete(t).where(t.c.key.in_(oldest))).rowcount
        return gone
