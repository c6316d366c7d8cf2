"""Referrals (where and why as ciphertext under the person's data key; open/closed in the clear)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from carekey.storage.protocols import ReferralRow
from carekey.storage.sql._util import utc
from carekey.storage.sql.tables import referrals


def _row(r) -> ReferralRow:
    return ReferralRow(
        r.id,
        r.person_id,
        r.visit_id,
        r.site_id,
        r.recorded_by,
        utc(r.recorded_at),
        bytes(r.ciphertext),
        utc(r.closed_at) if r.closed_at else None,
        r.closed_by,
        r.closed_as,
    )


class SqlReferralRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, row: ReferralRow) -> None:
        self._c.execute(
            insert(referrals).values(
                id=row.id,
                person_id=row.person_id,
                visit_id=row.visit_id,
                site_id=row.site_id,
                recorded_by=row.recorded_by,
                recorded_at=row.recorded_at,
                ciphertext=row.ciphertext,
            )
        )

    def get(self, referral_id: str) -> ReferralRow | None:
        r = self._c.execute(select(referrals).where(referrals.c.id == referral_id)).first()
        return _row(r) if r is not None else None

    def for_person(self, person_id: str) -> list[ReferralRow]:
        q = (
            select(referrals)
            .where(referrals.c.person_id == person_id)
            .order_by(referrals.c.recorded_at, referrals.c.id)
        )
        return [_row(r) for r in self._c.execute(q)]

    def open_at_site(self, site_id: str) -> list[ReferralRow]:
        q = (
            select(referrals)
            .where(referrals.c.site_id == site_id, referrals.c.closed_at.is_(None))
            .order_by(referrals.c.recorded_at, referrals.c.id)
        )
        return [_row(r) for r in self._c.execute(q)]

    def close(self, referral_id: str, at: datetime, by: str, closed_as: str) -> bool:
        """Close an open referral; False when it was already closed (two clinicians at once: the first wins)."""
        res = self._c.execute(
            update(referrals)
            .where(referrals.c.id == referral_id, referrals.c.closed_at.is_(None))
            .values(closed_at=at, closed_by=by, closed_as=closed_as)
        )
        return res.rowcount == 1
