"""Visits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carekey.domain.visit import Visit
from carekey.storage.sql._util import utc
from carekey.storage.sql.sync import note_change
from carekey.storage.sql.tables import visit_offers, visits

# hot statements built once (reused statement objects skip rebuilding and cache-key generation; load_profile.md)
# the visit with its offers in one statement: the policy reads both for every access of a person at a visit
_GET_WITH_OFFERS = (
    select(visits, visit_offers.c.person_id.label("offer_person"), visit_offers.c.method.label("offer_method"))
    .select_from(visits.outerjoin(visit_offers, visit_offers.c.visit_id == visits.c.id))
    .where(visits.c.id == bindparam("visit_id"))
)
_OFFERS = select(visit_offers.c.person_id, visit_offers.c.method).where(
    visit_offers.c.visit_id == bindparam("visit_id")
)


class SqlVisitRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn
        # offers read with their visit in this transaction (``get``); ``offer`` and the end of the transaction
        # (``forget``) drop them
        self._offers: dict[str, dict[str, str]] = {}

    def forget(self) -> None:
        self._offers.clear()

    def add(self, visit: Visit) -> None:
        self._c.execute(
            insert(visits).values(
                id=visit.id,
                site_id=visit.site_id,
                person_id=visit.person_id,
                opened_by=visit.opened_by,
                opened_at=visit.opened_at,
                closed_by=visit.closed_by,
                closed_at=visit.closed_at,
            )
        )

    def get(self, visit_id: str) -> Visit | None:
        rows = self._c.execute(_GET_WITH_OFFERS, {"visit_id": visit_id}).all()
        if not rows:
            return None
        self._offers[visit_id] = {r.offer_person: r.offer_method for r in rows if r.offer_person is not None}
        return _visit(rows[0])

    def open_at(self, site_ids: Sequence[str], since: datetime) -> list[Visit]:
        q = (
            select(visits)
            .where(visits.c.site_id.in_(list(site_ids)), visits.c.closed_at.is_(None), visits.c.opened_at >= since)
            .order_by(visits.c.opened_at, visits.c.id)
        )
        return [_visit(r) for r in self._c.execute(q)]

    def offer(self, visit_id: str, person_id: str, method: str) -> None:
        self._offers.pop(visit_id, None)
        found = self._c.execute(
            select(visit_offers.c.method).where(
                visit_offers.c.visit_id == visit_id, visit_offers.c.person_id == person_id
            )
        ).first()
        if found is None:  # idempotent under concurrency too: a parallel offer of the same person is no error
            dialect = self._c.dialect.name
            ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(visit_offers)
            self._c.execute(
                ins.values(visit_id=visit_id, person_id=person_id, method=method).on_conflict_do_nothing(
                    index_elements=["visit_id", "person_id"]
                )
            )
        elif method == "biometric" and found.method != "biometric":  # a biometric match is the stronger proof
            self._c.execute(
                update(visit_offers)
                .where(visit_offers.c.visit_id == visit_id, visit_offers.c.person_id == person_id)
                .values(method=method)
            )

    def offers(self, visit_id: str) -> dict[str, str]:
        if visit_id in self._offers:
            return dict(self._offers[visit_id])
        return {r.person_id: r.method for r in self._c.execute(_OFFERS, {"visit_id": visit_id})}

    def save(self, visit: Visit) -> None:
        self._c.execute(
            update(visits)
            .where(visits.c.id == visit.id)
            .values(person_id=visit.person_id, closed_by=visit.closed_by, closed_at=visit.closed_at)
        )
        if visit.person_id is not None:  # bound or closed: the person's record moves (sync feed)
            note_change(self._c, visit.person_id)


def _visit(r) -> Visit:
    return Visit(
        r.id,
        r.site_id,
        r.opened_by,
        utc(r.opened_at),
        r.person_id,
        r.closed_by,
        utc(r.closed_at),
    )
