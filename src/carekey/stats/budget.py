"""Privacy budget ledger per program per reporting period (sequential composition: the epsilons of all
releases over the same period add up).

Why per period: a release for period P reads only the exams recorded in P, so releases over disjoint
periods read disjoint records (parallel composition over the records of a period). A person screened in
November 2026 is in three periods (``202611``, ``2026Q4``, ``2026``), each with its own budget, so the
privacy loss about that exam is at most the sum of those three budgets; a person screened every month of a
year is in 12 + 4 + 1 periods. Both bounds are in the README next to the setting
(``Settings.privacy_budget_epsilon``, the budget of one program for one period).

Pure logic over the list of past spends; where spends are kept is a ``BudgetStore`` (a database table in
production, a list in tests). A release is charged *before* it is computed, and refused with
``BudgetExhausted`` when the total would pass the program's limit, so a failure can only under-use the
budget, never overspend it. A database store must run ``spends`` + ``add`` in one transaction (one
writer) so that two concurrent releases cannot both pass the check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from carekey.errors import BudgetExhausted, InvalidInput

#: Relative slack so that spending exactly the limit in several float steps (0.1 * 10) is allowed.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Spend:
    program: str
    epsilon: float
    label: str  # what was released, e.g. "hypertension, hierarchical (total, district, x sex, x age band)"
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    period: str | None = None  # DHIS2 period id (202611, 2026Q4, 2026); None only for pre-period rows


class BudgetStore(Protocol):
    def spends(self, program: str, period: str | None = None) -> Sequence[Spend]: ...

    def add(self, spend: Spend) -> None: ...


class InMemoryBudgetStore:
    def __init__(self, spends: Sequence[Spend] = ()) -> None:
        self._spends = list(spends)

    def spends(self, program: str, period: str | None = None) -> list[Spend]:
        return [s for s in self._spends if s.program == program and s.period == period]

    def add(self, spend: Spend) -> None:
        self._spends.append(spend)


def total(spends: Sequence[Spend]) -> float:
    return math.fsum(s.epsilon for s in spends)


def check_charge(spends: Sequence[Spend], limit: float, epsilon: float) -> float:
    """Raise BudgetExhausted if ``epsilon`` more would pass ``limit``; return the budget left after it."""
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise InvalidInput("a release must cost a positive, finite epsilon", field="epsilon")
    spent = total(spends)
    if spent + epsilon > limit * (1 + TOLERANCE):
        raise BudgetExhausted(
            f"this release needs epsilon {epsilon:g} but only {max(limit - spent, 0.0):g} of {limit:g} is left",
            spent=spent,
            limit=limit,
            requested=epsilon,
        )
    return max(limit - spent - epsilon, 0.0)


class PrivacyLedger:
    """The budget of every program for every period: one default limit, optional per-program limits."""

    def __init__(self, store: BudgetStore, limit: float, limits: Mapping[str, float] | None = None) -> None:
        if not math.isfinite(limit) or limit <= 0:
            raise InvalidInput("a privacy budget must be a positive, finite epsilon", field="limit")
        self.store, self.default_limit, self.limits = store, limit, dict(limits or {})

    def limit(self, program: str) -> float:
        return self.limits.get(program, self.default_limit)

    def spent(self, program: str, period: str | None = None) -> float:
        return total(self.store.spends(program, period))

    def remaining(self, program: str, period: str | None = None) -> float:
        return max(self.limit(program) - self.spent(program, period), 0.0)

    def charge(self, program: str, epsilon: float, label: str, period: str | None = None) -> Spend:
        """Record the spend against (program, period), or raise BudgetExhausted and record nothing."""
        check_charge(self.store.spends(program, period), self.limit(program), epsilon)
        spend = Spend(program, float(epsilon), label, period=period)
        self.store.add(spend)
        return spend
