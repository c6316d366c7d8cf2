"""Differentially private statistics for program managers (``carekey.stats``), within a privacy budget.

Rows are the people of the program whose latest ``aggregate_statistics`` decision is a grant, one row per
person from their latest exam. They are decrypted here, in memory, handed to
``stats.releases.release_and_charge`` and dropped: a caller only ever gets noisy counts with their 95 %
intervals, never a row. The budget is charged (``privacy_spends``) before noise is drawn; a release past
``Settings.privacy_budget_epsilon`` is refused with BudgetExhausted, logged as denied. Every release is an
entry in the access log (purpose aggregate_statistics, no person). The budget check and the charge run in
the transaction that appended to the log, which holds the log lock: concurrent releases cannot overspend.
"""

from __future__ import annotations

from dataclasses import dataclass

from carekey.domain.purposes import Purpose
from carekey.errors import BudgetExhausted, InvalidInput
from carekey.policy.decision import Action
from carekey.services.access import authorize, log_access
from carekey.services.deps import Actor, Deps
from carekey.services.records import data_key, open_exam, open_person_or_none
from carekey.stats.budget import PrivacyLedger
from carekey.stats.records import ScreeningRecord
from carekey.stats.releases import Statistic, release_and_charge
from carekey.storage.protocols import UnitOfWork

STATISTICS = tuple(s.value for s in Statistic)


@dataclass(frozen=True)
class BudgetView:
    program_id: str
    limit: float
    spent: float
    remaining: float
    releases: list[dict[str, object]]  # epsilon, label, at of each past release


class StatisticsService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def _program(self, uow: UnitOfWork, program_id: str | None) -> str:
        ids = [p.id for p in uow.programs.list_programs()]
        if program_id is None and len(ids) == 1:
            return ids[0]
        if program_id is None or program_id not in ids:
            raise InvalidInput(f"name the program: one of {', '.join(ids) or '(none)'}", field="program_id")
        return program_id

    def _ledger(self, uow: UnitOfWork) -> PrivacyLedger:
        return PrivacyLedger(uow.budget, self.d.settings.privacy_budget_epsilon)

    def _rows(self, uow: UnitOfWork, program_id: str) -> list[ScreeningRecord]:
        today = self.d.clock().date()
        granted = uow.consents.latest_decisions(Purpose.AGGREGATE_STATISTICS.value)
        rows = []
        for prow in uow.people.in_program(program_id):
            exams = uow.exams.for_person(prow.id)
            if not granted.get(prow.id) or not exams:
                continue
            person = open_person_or_none(self.d.crypto, prow)
            if person is None:
                continue
            latest = open_exam(self.d.crypto, data_key(self.d.crypto, prow), max(exams, key=lambda e: e.recorded_at))
            rows.append(ScreeningRecord(
                district=person.district, sex=person.sex.value, age=person.age(today),
                systolic=None if latest.systolic_bp is None else round(latest.systolic_bp),
                diastolic=None if latest.diastolic_bp is None else round(latest.diastolic_bp),
                weight_kg=latest.weight_kg, height_cm=latest.height_cm,
                blood_type=latest.blood_type.value if latest.blood_type else None,
                fasting_glucose_mmol=latest.glucose_mmol_l, unit=prow.id))
        return rows

    def release(self, actor: Actor, purpose: str | None, statistic: str, epsilon: float,
                program_id: str | None = None) -> dict[str, object]:
        """One DP release by district x sex x age band; returns figures with 95 % intervals and the budget."""
        now = self.d.clock()
        with self.d.uow() as uow:
            authorize(uow, now, actor, Action.STATISTICS, purpose)
            try:
                stat = Statistic(statistic)
            except ValueError:
                raise InvalidInput(f"unknown statistic {statistic!r}; one of {', '.join(STATISTICS)}",
                                   field="statistic") from None
            program = self._program(uow, program_id)
            districts = sorted({s.district for s in uow.programs.list_sites() if s.program_id == program
                                and s.district})
            if not districts:
                raise InvalidInput("the program's sites name no district to count by")
            ledger = self._ledger(uow)
            try:
                result = release_and_charge(ledger, program, stat, self._rows(uow, program), districts=districts,
                                            epsilon=epsilon)
            except BudgetExhausted as err:
                uow.rollback()
                log_access(uow, now, actor, Action.STATISTICS.value, Purpose.AGGREGATE_STATISTICS.value, "denied",
                           f"privacy budget exhausted: {err.message}")
                uow.commit()
                raise
            uow.commit()
            spent, limit = ledger.spent(program), ledger.limit(program)
        return result.to_dict() | {"program_id": program, "epsilon_spent": spent, "epsilon_limit": limit,
                                   "epsilon_remaining": max(limit - spent, 0.0)}

    def budget(self, actor: Actor, purpose: str | None, program_id: str | None = None) -> BudgetView:
        with self.d.uow() as uow:
            authorize(uow, self.d.clock(), actor, Action.STATISTICS, purpose)
            program = self._program(uow, program_id)
            ledger = self._ledger(uow)
            spends = ledger.store.spends(program)
            view = BudgetView(program, ledger.limit(program), ledger.spent(program), ledger.remaining(program),
                              [{"epsilon": s.epsilon, "label": s.label, "at": s.at.isoformat()} for s in spends])
            uow.commit()
        return view
