"""Visits."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from carekey.domain.visit import Visit
from carekey.storage.sql._util import utc
from carekey.storage.sql.tables import visits


class SqlVisitRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, visit: Visit) -> None:
        self._c.execute(insert(visits).values(id=visit.id, site_id=visit.site_id, person_id=visit.person_id,
                                              opened_by=visit.opened_by, opened_at=visit.opened_at,
                                              closed_by=visit.closed_by, closed_at=visit.closed_at))

    def get(self, visit_id: str) -> Visit | None:
        r = self._c.execute(select(visits).where(visits.c.id == visit_id)).first()
        if r is None:
            return None
        return Visit(r.id, r.site_id, r.opened_by, utc(r.opened_at), r.person_id, r.closed_by,  # type: ignore[arg-type]
                     utc(r.closed_at))

    def save(self, visit: Visit) -> None:
        self._c.execute(update(visits).where(visits.c.id == visit.id).values(
            person_id=visit.person_id, closed_by=visit.closed_by, closed_at=visit.closed_at))
