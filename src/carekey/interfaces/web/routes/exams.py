"""Exam entry (clinician): fixed units with hints, HTML min/max from the domain's plausible ranges, and the
server's range errors shown next to the field. Also an exam shown without being stored (no care_record)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from carekey.domain.exam import SPECS, BloodType
from carekey.domain.followup import review
from carekey.errors import InvalidInput
from carekey.interfaces.web.forms import Fields, form_data
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes.visits import CARE, CSRF, visit_url
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action

router = APIRouter(prefix="/visit/{visit_id}")
Form = Annotated[FormData, Depends(form_data)]
NUMERIC = ("systolic_bp", "diastolic_bp", "pulse", "height_cm", "weight_kg", "glucose_mmol_l", "hemoglobin_g_dl")
STEP = {"glucose_mmol_l": "0.1", "hemoglobin_g_dl": "0.1", "height_cm": "0.1", "weight_kg": "0.1"}
LABEL = {"glucose_mmol_l": "Blood glucose (capillary)", "hemoglobin_g_dl": "Hemoglobin", "pulse": "Pulse"}
UNIT_HINT = {"mm[Hg]": "mmHg", "/min": "beats per minute", "cm": "cm", "kg": "kg", "mmol/L": "mmol/L", "g/dL": "g/dL"}


def _fields() -> list[dict[str, object]]:
    return [
        {
            "name": n,
            "label": LABEL.get(n, SPECS[n].display),
            "unit": UNIT_HINT.get(SPECS[n].unit, SPECS[n].unit),
            "loinc": SPECS[n].loinc,
            "low": SPECS[n].low,
            "high": SPECS[n].high,
            "step": STEP.get(n, "1"),
        }
        for n in NUMERIC
    ]


def _render(request: Request, visit_id: str, f: Fields, stored: bool, status: int = 200, shown=None):
    visit = services(request).visits.get(request.state.actor, visit_id)
    visit.require_open()
    return page(
        request,
        "exam.html",
        status,
        visit=visit,
        fields=_fields(),
        blood_types=[b.value for b in BloodType],
        values=f.values(),
        errors=f.errors,
        stored=stored,
        shown=shown,
        latest=review(shown, None) if shown is not None else None,
    )


def _values(f: Fields) -> dict[str, object]:
    values: dict[str, object] = {n: f.number(n) for n in NUMERIC}
    values["blood_type"] = f.text("blood_type") or None
    values["notes"] = f.text("notes") or None
    values["glucose_fasting"] = {"yes": True, "no": False}.get(f.text("glucose_fasting"))
    return values


def _submit(request: Request, visit_id: str, f: Fields, stored: bool):
    actor = request.state.actor
    svc = services(request)
    values = _values(f)
    if f.errors:
        return _render(request, visit_id, f, stored, 422)
    try:
        if not stored:
            return _render(
                request,
                visit_id,
                Fields(FormData()),
                False,
                200,
                svc.exams.screen_without_record(actor, visit_id, values),
            )
        visit = svc.visits.get(actor, visit_id)
        if visit.person_id is None:
            raise InvalidInput("the registrar has not confirmed a person for this visit yet")
        svc.exams.record(actor, visit.id, CARE, visit.person_id, values)
    except InvalidInput as err:
        f.error(err, (*NUMERIC, "blood_type", "notes"))
        return _render(request, visit_id, f, stored, 422)
    return redirect(request, visit_url(visit_id), "exam_recorded")


@router.get("/exam")
def exam_form(request: Request, visit_id: str):
    require_staff(request, Action.RECORD_EXAM)
    return _render(request, visit_id, Fields(FormData()), True)


@router.post("/exam", dependencies=CSRF)
def record(request: Request, visit_id: str, form: Form):
    require_staff(request, Action.RECORD_EXAM)
    return _submit(request, visit_id, Fields(form), True)


@router.get("/screening")
def screening_form(request: Request, visit_id: str):
    require_staff(request, Action.SCREEN)
    return _render(request, visit_id, Fields(FormData()), False)


@router.post("/screening", dependencies=CSRF)
def screening(request: Request, visit_id: str, form: Form):
    require_staff(request, Action.SCREEN)
    return _submit(request, visit_id, Fields(form), False)
