"""Identify a returning person: by card, by name + birth year, or by fingerprint/iris; then confirm.

Results are rendered as the POST response (never in a URL), at most 5 candidates, each showing only what
is needed to confirm with the person present: name, birth year, sex and village.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from carekey.biometrics.modality import MODALITIES
from carekey.domain.purposes import Purpose
from carekey.errors import CaptureRejected, Forbidden, InvalidInput
from carekey.interfaces.web.forms import Fields, form_data, read_upload
from carekey.interfaces.web.i18n import gettext, say
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes.visits import CARE, CSRF, visit_url
from carekey.interfaces.web.security import CSRF_COOKIE, csrf_cookie, require_csrf
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action

router = APIRouter(prefix="/visit/{visit_id}")
Form = Annotated[FormData, Depends(form_data)]
BIO = Purpose.BIOMETRIC_IDENTIFICATION.value
NOT_AGREED = "read the notice to the person and tick this box only if they agree"


def _identify_page(request: Request, visit_id: str, f: Fields, status: int = 422):
    svc = services(request)
    visit = svc.visits.get(request.state.actor, visit_id)
    return page(
        request,
        "identify.html",
        status,
        visit=visit,
        biometrics=svc.biometrics is not None,
        values=f.values(),
        errors=f.errors,
    )


def _candidates_page(request: Request, visit_id: str, found: list, how: str):
    """The candidates, each with a signed offer that ``confirm`` checks (only those shown can be confirmed)."""
    actor, cookie, csrf = request.state.actor, csrf_cookie(request), request.app.state.csrf
    offers = {c.person_id: csrf.offer_for(cookie, visit_id, c.person_id) for c in found}
    return page(
        request,
        "candidates.html",
        visit=services(request).visits.get(actor, visit_id),
        candidates=found,
        how=how,
        offers=offers,
    )


@router.post("/lookup", dependencies=CSRF)
def lookup(request: Request, visit_id: str, form: Form):
    actor = require_staff(request, Action.LOOKUP)
    svc, f = services(request), Fields(form)
    if f.text("by") == "card":
        if not f.text("card_number"):
            f.errors["card_number"] = "enter the card number"
            return _identify_page(request, visit_id, f)
        try:
            found = svc.lookup.by_card(actor, visit_id, CARE, f.text("card_number"))
        except InvalidInput as err:
            f.errors["card_number"] = say(err)
            return _identify_page(request, visit_id, f)
    else:
        year = f.number("birth_year", int, required=True)
        if not f.text("name"):
            f.errors["name"] = "enter the name"
        if f.errors:
            return _identify_page(request, visit_id, f)
        try:
            found = svc.lookup.by_name(actor, visit_id, CARE, f.text("name"), int(year or 0), f.text("village"))
        except InvalidInput as err:
            f.errors["name"] = say(err)
            return _identify_page(request, visit_id, f)
    return _candidates_page(request, visit_id, found, "lookup")


@router.post("/identify", dependencies=CSRF)
async def identify(request: Request, visit_id: str, form: Form):
    actor = await run_in_threadpool(require_staff, request, Action.IDENTIFY_BIOMETRIC)
    svc, f = services(request), Fields(form)
    biometrics = svc.biometrics
    if biometrics is None:
        raise InvalidInput("biometric identification is not available on this server; use the card or the name")
    agreed = f.text("agree") == "yes"
    modality = f.text("modality")
    if modality not in MODALITIES:
        f.errors["modality"] = "choose fingerprint or iris"
    try:
        image = await read_upload(form.get("image"), request.app.state.settings.upload_max_bytes)
    except InvalidInput as err:
        f.errors["image"] = say(err)
    if f.errors:
        if not agreed:
            f.errors["agree"] = NOT_AGREED
        return await run_in_threadpool(_identify_page, request, visit_id, f)
    try:  # without the tick the policy denies the search, and the denial is logged and visible to auditors
        found = await run_in_threadpool(
            lambda: biometrics.identify(actor, visit_id, BIO, modality, image, person_agreed=agreed)
        )
    except Forbidden:
        if agreed:
            raise
        f.errors["agree"] = NOT_AGREED
        return await run_in_threadpool(_identify_page, request, visit_id, f)
    except CaptureRejected as err:
        f.errors["image"] = gettext("%(problem)s — please capture again") % {"problem": say(err)}
        return await run_in_threadpool(_identify_page, request, visit_id, f)
    return await run_in_threadpool(_candidates_page, request, visit_id, found, "biometric")


@router.post("/confirm", dependencies=[Depends(require_csrf)])
def confirm(request: Request, visit_id: str, form: Form):
    actor = require_staff(request, Action.LOOKUP)
    f = Fields(form)
    pid = f.text("person_id")
    request.app.state.csrf.verify_offer(request.cookies.get(CSRF_COOKIE), visit_id, pid, f.text("offer"))
    services(request).people.read(actor, visit_id, CARE, pid)
    return redirect(request, visit_url(visit_id), "confirmed")
