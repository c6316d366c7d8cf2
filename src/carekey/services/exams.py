"""Record and read exams; show an exam without storing it when care_record is not granted."""

from __future__ import annotations

from collections.abc import Mapping

from carekey.domain.exam import Exam
from carekey.domain.ids import new_id
from carekey.errors import Forbidden, InvalidInput, NotFound, msg
from carekey.policy.decision import Action
from carekey.services.access import authorize, permitted
from carekey.services.deps import Actor, Deps
from carekey.services.records import data_key, load_row, open_exam, seal_exam
from carekey.services.visits import load_visit
from carekey.storage.protocols import ExamRow

MEASUREMENT_FIELDS = (
    "systolic_bp",
    "diastolic_bp",
    "pulse",
    "height_cm",
    "weight_kg",
    "glucose_mmol_l",
    "hemoglobin_g_dl",
    "blood_type",
    "notes",
    "glucose_fasting",
)


def _fields(values: Mapping[str, object]) -> dict[str, object]:
    unknown = set(values) - set(MEASUREMENT_FIELDS)
    if unknown:
        raise InvalidInput(msg("unknown exam fields: %(fields)s", fields=", ".join(sorted(unknown))))
    return {k: v for k, v in values.items() if v is not None}


class ExamService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def record(
        self, actor: Actor, visit_id: str, purpose: str | None, person_id: str, values: Mapping[str, object]
    ) -> Exam:
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            authorize(uow, now, actor, Action.RECORD_EXAM, purpose, visit=visit, person_id=person_id)
            assert visit is not None
            exam = Exam.create(
                id=new_id("EX"),
                person_id=person_id,
                visit_id=visit.id,
                site_id=visit.site_id,
                recorded_by=actor.user_id,
                recorded_at=now,
                **_fields(values),
            )
            row = load_row(uow, person_id)
            key = data_key(self.d.crypto, row)
            uow.exams.add(
                ExamRow(
                    exam.id, person_id, visit.id, visit.site_id, actor.user_id, now, seal_exam(self.d.crypto, key, exam)
                )
            )
            if visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            uow.people.touch(person_id, now)
            uow.commit()
        return exam

    def read(self, actor: Actor, visit_id: str, purpose: str | None, person_id: str) -> list[Exam]:
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            authorize(uow, now, actor, Action.READ_EXAMS, purpose, visit=visit, person_id=person_id)
            row = load_row(uow, person_id)
            key = data_key(self.d.crypto, row)
            rows = uow.exams.for_person(person_id)
            assert visit is not None
            if visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            uow.commit()
        return [open_exam(self.d.crypto, key, r) for r in rows]

    def screen_without_record(self, actor: Actor, visit_id: str, values: Mapping[str, object]) -> Exam:
        """Validate and return an exam for display/print WITHOUT storing anything (no care_record consent).
        No person is named, so nothing personal is read or logged."""
        with self.d.uow(read_only=True) as uow:
            visit = load_visit(uow, visit_id)
        if visit is None or visit.site_id not in actor.site_ids:
            raise NotFound(msg("no visit %(visit)s at your sites", visit=visit_id))
        visit.require_open()
        decision = permitted(actor, Action.SCREEN, visit=visit)
        if not decision.allowed:
            raise Forbidden(decision.reason)
        return Exam.create(
            id=new_id("EX"),
            person_id=None,
            visit_id=visit.id,
            site_id=visit.site_id,
            recorded_by=actor.user_id,
            recorded_at=self.d.clock(),
            **_fields(values),
        )
