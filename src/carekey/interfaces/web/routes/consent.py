"""Change the consents of a confirmed person during a visit (grant or withdraw each purpose)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from carekey.domain.purposes import CONSENT_PURPOSES
from carekey.errors import InvalidInput, PresenceRequired
from carekey.interfaces.web import notices
from carekey.interfaces.web.forms import Fields, form_data, presence_proof
from carekey.interfaces.web.i18n import say
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes.enroll import grantor_for, program_of
from carekey.interfaces.web.routes.visits import CARE, CSRF, visit_url
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action

router = APIRouter(prefix="/visit/{visit_id}")
Form = Annotated[FormData, Depends(form_data)]


def _render(request: Request, visit_id: str, f: Fields, language: str | None, status: int = 200):
    svc, actor = services(request), request.state.actor
    visit = svc.visits.get(actor, visit_id)
    if visit.person_id is None:
        raise InvalidInput("confirm or enroll the person first")
    view = svc.people.read(actor, visit.id, CARE, visit.person_id)
    program = program_of(request, visit.site_id)
    notice = notices.pick(program, language or view.person.language)
    granted = set(f.checked("grant")) if f.form else {p.value for p in view.consents}
    return page(
        request,
        "consent.html",
        status,
        visit=visit,
        view=view,
        notice=notice,
        offered=notices.offered(program),
        purposes=CONSENT_PURPOSES,
        granted=granted,
        age=view.person.age(svc.deps.clock().date()),
        values=f.values(),
        errors=f.errors,
    )


@router.get("/consent")
def consent_form(request: Request, visit_id: str):
    require_staff(request, Action.RECORD_CONSENT)
    return _render(request, visit_id, Fields(FormData()), None)


@router.post("/consent", dependencies=CSRF)
def decide(request: Request, visit_id: str, form: Form):
    actor = require_staff(request, Action.RECORD_CONSENT)
    svc, f = services(request), Fields(form)
    language = f.text("language")
    if f.text("show_language"):
        return _render(request, visit_id, f, f.text("show_language"))
    visit = svc.visits.get(actor, visit_id)
    if visit.person_id is None:
        raise InvalidInput("confirm or enroll the person first")
    view = svc.people.read(actor, visit.id, CARE, visit.person_id)
    grantor = grantor_for(view.person.age(svc.deps.clock().date()), f)
    try:
        svc.consents.apply(
            actor,
            visit.id,
            CARE,
            visit.person_id,
            f.checked("grant"),
            f.text("notice_version"),
            language,
            grantor,
            presence_proof(f),
        )
    except InvalidInput as err:
        f.error(err, ("grant", "guardian_name", "guardian_relation"), default="grant")
        return _render(request, visit_id, f, language, 422)
    except PresenceRequired as err:
        f.errors["presence"] = say(err)
        return _render(request, visit_id, f, language, 403)
    return redirect(request, visit_url(visit.id), "consent_saved")
