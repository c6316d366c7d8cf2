"""The privacy budget ledger (``carekey.stats.budget.BudgetStore``): one row per release, never updated; and
the published releases (``carekey.stats.published.ReleaseStore``), updated only when DHIS2 accepts a push.

The service charges the ledger inside the unit of work that also appends the release to the access log; that
append takes the log lock (PostgreSQL advisory lock, SQLite's single writer), so two concurrent releases
cannot both pass the budget check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from carekey.stats.budget import Spend
from carekey.stats.published import PublishedRelease
from carekey.storage.sql._util import utc
from carekey.storage.sql.tables import privacy_spends as t
from carekey.storage.sql.tables import stats_releases as rt


class SqlBudgetStore:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def spends(self, program: str, period: str | None = None) -> list[Spend]:
        where = t.c.period.is_(None) if period is None else t.c.period == period
        q = select(t).where(t.c.program_id == program, where).order_by(t.c.id)
        return [Spend(r.program_id, float(r.epsilon), r.label, utc(r.at), r.period) for r in self._c.execute(q)]

    def add(self, spend: Spend) -> None:
        self._c.execute(
            insert(t).values(
                program_id=spend.program, epsilon=spend.epsilon, label=spend.label, at=spend.at, period=spend.period
            )
        )


class SqlReleaseStore:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, release: PublishedRelease) -> None:
        self._c.execute(
            insert(rt).values(
                id=release.id,
                program_id=release.program_id,
                period=release.period,
                statistic=release.statistic,
                epsilon=release.epsilon,
                created_at=release.created_at,
                created_by=release.created_by,
                body=json.dumps(release.body),
                sent_at=release.sent_at,
                sent_summary=None if release.sent_summary is None else json.dumps(release.sent_summary),
            )
        )

    def get(self, release_id: str) -> PublishedRelease | None:
        row = self._c.execute(select(rt).where(rt.c.id == release_id)).first()
        return None if row is None else _release(row)

    def list(self, program_id: str, period: str | None = None) -> list[PublishedRelease]:
        q = select(rt).where(rt.c.program_id == program_id)
        if period is not None:
            q = q.where(rt.c.period == period)
        return [_release(r) for r in self._c.execute(q.order_by(rt.c.created_at, rt.c.id))]

    def mark_sent(self, release_ids: Sequence[str], at: datetime, summary: dict[str, object]) -> None:
        if release_ids:
            self._c.execute(
                update(rt).where(rt.c.id.in_(list(release_ids))).values(sent_at=at, sent_summary=json.dumps(summary))
            )


def _release(row) -> PublishedRelease:
    return PublishedRelease(
        row.id,
        row.program_id,
        row.period,
        row.statistic,
        float(row.epsilon),
        utc(row.created_at),
        row.created_by,
        json.loads(row.body),
        utc(row.sent_at) if row.sent_at is not None else None,
        json.loads(row.sent_summary) if row.sent_summary else None,
    )
