"""The privacy budget ledger (``carekey.stats.budget.BudgetStore``): one row per release, never updated.

The service charges it inside the unit of work that also appends the release to the access log; that
append takes the log lock (PostgreSQL advisory lock, SQLite's single writer), so two concurrent releases
cannot both pass the budget check.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from carekey.stats.budget import Spend
from carekey.storage.sql._util import utc
from carekey.storage.sql.tables import privacy_spends as t


class SqlBudgetStore:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def spends(self, program: str) -> list[Spend]:
        q = select(t).where(t.c.program_id == program).order_by(t.c.id)
        return [Spend(r.program_id, float(r.epsilon), r.label, utc(r.at)) for r in self._c.execute(q)]  # type: ignore[arg-type]

    def add(self, spend: Spend) -> None:
        self._c.execute(insert(t).values(program_id=spend.program, epsilon=spend.epsilon, label=spend.label,
                                         at=spend.at))
