"""Consent notice and enrollment of a new person; later consent changes for a confirmed person.

The notice is shown in the person's language (one of the program's languages with a notice file). The
grantor follows the age rules of ``carekey.domain.consent``: 18+ alone, 12-17 with a guardian co-signing,
under 12 a guardian deciding; the screen collects the guardian's name and relation when needed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from carekey.domain.consent import ADULT_AGE, MINOR_SELF_AGE, Grantor, GrantorKind
from carekey.domain.person import age_on
from carekey.domain.program import Program
from carekey.domain.purposes import CONSENT_PURPOSES
from carekey.errors import Conflict, ConsentMissing, InvalidInput, NotFound, PossibleDuplicate
from carekey.interfaces.web import notices
from carekey.interfaces.web.forms import Fields, form_data
from carekey.interfaces.web.i18n import N_, gettext, say
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes.visits import CARE, CSRF, visit_url
from carekey.interfaces.web.security import csrf_cookie
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action
from carekey.services.consents import ConsentInput
from carekey.services.people import PersonInput

router = APIRouter(prefix="/visit/{visit_id}")
Form = Annotated[FormData, Depends(form_data)]
SEXES = ("female", "male", "other", "unknown")
NO_RECORD = N_(
    'without "keep my health record" nothing about the person is stored: offer the exam without a record '
    "(Exam only, keep nothing) instead"
)


def program_of(request: Request, site_id: str) -> Program:
    svc = services(request)
    site = next((s for s in svc.admin.sites() if s.id == site_id), None)
    program = next((p for p in svc.admin.programs() if site and p.id == site.program_id), None)
    if program is None:
        raise NotFound("the visit's site belongs to no program")
    return program


def grantor_for(age: int, f: Fields) -> Grantor:
    if age >= ADULT_AGE:
        return Grantor()
    kind = GrantorKind.SELF if age >= MINOR_SELF_AGE else GrantorKind.GUARDIAN
    return Grantor(kind, f.text("guardian_name"), f.text("guardian_relation"))


# the fields of enroll.html that show an error beside them (errors name their field where they are raised)
SHOWN = (
    "given_name",
    "family_name",
    "birth_year",
    "sex",
    "card_number",
    "district",
    "village",
    "grant",
    "guardian_name",
    "guardian_relation",
    "pin",
)


def _form(
    request: Request,
    visit_id: str,
    f: Fields,
    language: str | None,
    status: int = 200,
    duplicates: list | None = None,
):
    """The form; with ``duplicates`` (a possible duplicate), the people already enrolled with the same name, birth
    year and village, each with a signed offer to open their record (``identify.confirm``), and the box to confirm a
    new person."""
    actor = request.state.actor
    visit = services(request).visits.get(actor, visit_id)
    visit.require_open()
    program = program_of(request, visit.site_id)
    notice = notices.pick(program, language)
    return page(
        request,
        "enroll.html",
        status,
        visit=visit,
        notice=notice,
        offered=notices.offered(program),
        purposes=CONSENT_PURPOSES,
        sexes=SEXES,
        values=f.values(),
        errors=f.errors,
        granted=set(f.checked("grant")),
        year=services(request).deps.clock().year,
        duplicates=duplicates or [],
        offers={
            c["person_id"]: request.app.state.csrf.offer_for(csrf_cookie(request), visit_id, c["person_id"])
            for c in duplicates or []
        },
    )


@router.get("/enroll")
def enroll_form(request: Request, visit_id: str):
    require_staff(request, Action.ENROLL)
    return _form(request, visit_id, Fields(FormData()), None)


@router.post("/enroll", dependencies=CSRF)
def enroll(request: Request, visit_id: str, form: Form):
    actor = require_staff(request, Action.ENROLL)
    svc, f = services(request), Fields(form)
    language = f.text("language")
    if f.text("show_language"):  # a language button: show the notice in that language, keep what was typed
        return _form(request, visit_id, f, f.text("show_language"))
    year = f.number("birth_year", int, required=True)
    for name in ("given_name", "card_number"):
        if not f.text(name):
            f.errors[name] = "required"
    if f.errors:
        return _form(request, visit_id, f, language, 422)
    today = svc.deps.clock().date()
    grantor = grantor_for(age_on(int(year or 0), None, today), f)
    try:
        consent = ConsentInput.parse(f.checked("grant"), f.text("notice_version"), language, grantor)
        data = PersonInput(
            f.text("given_name"),
            f.text("family_name"),
            f.text("sex") or "unknown",
            int(year or 0),
            f.text("card_number"),
            district=f.text("district"),
            village=f.text("village"),
            language=language,
        )
        svc.people.enroll(
            actor, visit_id, CARE, data, consent, f.text("pin") or None, confirm_new=f.text("confirm_new") == "yes"
        )
    except PossibleDuplicate as err:
        f.errors["duplicate"] = say(err)
        candidates = err.detail.get("candidates")
        found = list(candidates) if isinstance(candidates, list) else []
        return _form(request, visit_id, f, language, err.status, found)
    except ConsentMissing:
        f.errors["grant"] = gettext(NO_RECORD)
        return _form(request, visit_id, f, language, 403)
    except (InvalidInput, Conflict) as err:
        if isinstance(err, Conflict):  # a duplicate enrollment: the card is taken
            f.errors["card_number"] = say(err)
        else:
            f.error(err, SHOWN, aliases={"birth_date": "birth_year"})
        return _form(request, visit_id, f, language, err.status)
    return redirect(request, visit_url(visit_id), "enrolled")
