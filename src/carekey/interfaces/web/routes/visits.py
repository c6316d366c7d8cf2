"""A visit: open it, see where it stands (identify, or the confirmed person), set a PIN, close it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from carekey.domain.followup import review
from carekey.domain.program import Role
from carekey.domain.purposes import CONSENT_PURPOSES, Purpose
from carekey.domain.referral import ClosedAs, Urgency
from carekey.errors import ConsentMissing, InvalidInput
from carekey.interfaces.web.forms import Fields, form_data, presence_proof
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.security import require_csrf
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action
from carekey.services.biometrics import POSITIONS

router = APIRouter(prefix="/visit")
Form = Annotated[FormData, Depends(form_data)]
CARE = Purpose.CARE_RECORD.value  # the purpose of every screen of a visit, never typed by the user
BIO = Purpose.BIOMETRIC_IDENTIFICATION.value
CSRF = [Depends(require_csrf)]
URGENCIES = [u.value for u in Urgency]
CLOSINGS = [c.value for c in ClosedAs]


def visit_url(visit_id: str, tail: str = "") -> str:
    return f"/visit/{visit_id}{tail}"


@router.post("", dependencies=CSRF)
def open_visit(request: Request, form: Form):
    actor = require_staff(request, Action.HANDLE_VISIT)
    site = Fields(form).text("site_id") or next(iter(sorted(actor.site_ids)), "")
    visit = services(request).visits.open(actor, site)
    return redirect(request, visit_url(visit.id))


@router.get("/{visit_id}")
def show(request: Request, visit_id: str):
    actor = require_staff(request, Action.HANDLE_VISIT)
    svc = services(request)
    visit = svc.visits.get(actor, visit_id)
    if not visit.is_open:
        return page(request, "closed.html", visit=visit)
    if visit.person_id is None:
        return page(request, "identify.html", visit=visit, biometrics=svc.biometrics is not None, values={}, errors={})
    try:
        view = svc.people.read(actor, visit.id, CARE, visit.person_id)
    except ConsentMissing:
        return page(request, "closed.html", visit=visit, withdrawn=True)
    exams = svc.exams.read(actor, visit.id, CARE, visit.person_id) if actor.role is Role.CLINICIAN else None
    reviews = [review(e, view.person) for e in exams] if exams else []
    referrals = svc.referrals.for_person(actor, visit.id, CARE, visit.person_id) if actor.role is Role.CLINICIAN else []
    today = svc.deps.clock().date()
    # which fingers and eyes are enrolled: part of the record just read (authorized and logged above)
    enrolled = svc.biometrics.enrolled_positions(visit.person_id) if svc.biometrics is not None else {}
    tasks = svc.tasks.open_for(visit.person_id)  # from the central enrollment of offline captures (a site node)
    return page(
        request,
        "visit.html",
        visit=visit,
        view=view,
        person=view.person,
        age=view.person.age_label(today),
        exams=exams,
        reviews=reviews,
        latest=reviews[-1] if reviews else None,
        purposes=CONSENT_PURPOSES,
        biometrics=svc.biometrics is not None,
        referrals=referrals,
        urgencies=URGENCIES,
        closings=CLOSINGS,
        enrolled=enrolled,
        positions=POSITIONS,
        tasks=tasks,
    )


@router.post("/{visit_id}/pin", dependencies=CSRF)
def set_pin(request: Request, visit_id: str, form: Form):
    actor = require_staff(request, Action.SET_PIN)
    svc = services(request)
    visit = svc.visits.get(actor, visit_id)
    if visit.person_id is None:
        raise InvalidInput("confirm or enroll the person first")
    f = Fields(form)
    svc.people.set_pin(actor, visit.id, CARE, visit.person_id, f.text("pin"), presence_proof(f))
    return redirect(request, visit_url(visit.id), "pin_set")


@router.post("/{visit_id}/task", dependencies=CSRF)
def resolve_task(request: Request, visit_id: str, form: Form):
    """The registrar's answer to a task from the central registry (a possible duplicate of an offline capture)."""
    actor = require_staff(request, Action.ENROLL_BIOMETRIC)
    svc = services(request)
    visit = svc.visits.get(actor, visit_id)
    if visit.person_id is None:
        raise InvalidInput("confirm or enroll the person first")
    f = Fields(form)
    svc.tasks.resolve(actor, visit.id, BIO, visit.person_id, f.text("task_id"), f.text("resolution"))
    return redirect(request, visit_url(visit.id), "task_resolved")


@router.post("/{visit_id}/close", dependencies=CSRF)
def close(request: Request, visit_id: str):
    actor = require_staff(request, Action.HANDLE_VISIT)
    services(request).visits.close(actor, visit_id)
    return redirect(request, "/", "visit_closed")
