"""The FHIR push queue."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from carekey.storage.protocols import FhirPushRow
from carekey.storage.sql._util import conflict_on_duplicate, utc
from carekey.storage.sql.tables import fhir_pushes as T


class SqlFhirPushRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, row: FhirPushRow) -> None:
        with conflict_on_duplicate(lambda: f"visit {row.visit_id} is already queued for FHIR push"):
            self._c.execute(
                insert(T).values(
                    **_values(row),
                    id=row.id,
                    visit_id=row.visit_id,
                    person_id=row.person_id,
                    site_id=row.site_id,
                    created_at=row.created_at,
                )
            )

    def get(self, push_id: str) -> FhirPushRow | None:
        r = self._c.execute(select(T).where(T.c.id == push_id)).first()
        return None if r is None else _row(r)

    def save(self, row: FhirPushRow) -> None:
        self._c.execute(update(T).where(T.c.id == row.id).values(**_values(row)))

    def due(self, now: datetime, limit: int) -> list[FhirPushRow]:
        q = (
            select(T)
            .where(T.c.status == "pending", T.c.next_attempt_at <= now)
            .order_by(T.c.next_attempt_at, T.c.id)
            .limit(limit)
        )
        return [_row(r) for r in self._c.execute(q)]

    def list(self, statuses: Sequence[str]) -> list[FhirPushRow]:
        q = select(T).where(T.c.status.in_(list(statuses))).order_by(T.c.created_at, T.c.id)
        return [_row(r) for r in self._c.execute(q)]

    def counts(self) -> builtins.list[tuple[str, str, int]]:  # `list` is a method of this class
        q = (
            select(T.c.site_id, T.c.status, func.count())
            .group_by(T.c.site_id, T.c.status)
            .order_by(T.c.site_id, T.c.status)
        )
        return [(r[0], r[1], int(r[2])) for r in self._c.execute(q)]

    def requeue_failed(self, now: datetime) -> int:
        res = self._c.execute(
            update(T).where(T.c.status == "failed").values(status="pending", attempts=0, next_attempt_at=now)
        )
        return int(res.rowcount or 0)


def _values(row: FhirPushRow) -> dict[str, object]:
    return dict(
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_status=row.last_status,
        last_error=row.last_error[:200],
        location=row.location[:500] if row.location else None,
    )


def _row(r) -> FhirPushRow:
    return FhirPushRow(
        r.id,
        r.visit_id,
        r.person_id,
        r.site_id,
        r.status,
        r.attempts,
        utc(r.created_at),
        utc(r.next_attempt_at),
        utc(r.last_attempt_at),
        r.last_status,
        r.last_error,
        r.location,
    )
