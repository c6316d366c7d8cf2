"""The patient portal: card number + PIN, then my record and exams, my consents (withdraw, say yes again),
every access to my data with its proof status, a copy of my data, erasure. Plain words, big buttons,
phone-sized screens.

The purpose is always ``patient_access`` (fixed inside the patients service). Proofs: each access carries an
inclusion receipt against a signed tree head; the page checks it with the log's public key and shows the
result, and the downloaded copy holds the receipts so anyone can check them again with the key alone.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from carekey.audit.proofs import verify_access_receipt
from carekey.domain.followup import review
from carekey.domain.purposes import CONSENT_PURPOSES
from carekey.errors import InvalidInput, NotAuthenticated, RateLimited
from carekey.interfaces.web import i18n, notices, wording
from carekey.interfaces.web.forms import Fields, form_data
from carekey.interfaces.web.i18n import say
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes.language import remember
from carekey.interfaces.web.security import PATIENT_COOKIE, clear_cookie, require_csrf, set_cookie
from carekey.interfaces.web.session import require_patient, services

router = APIRouter(prefix="/me")
Form = Annotated[FormData, Depends(form_data)]
CSRF = [Depends(require_csrf)]


@router.get("/login")
def login_form(request: Request):
    return page(request, "me_login.html", values={}, error=None)


@router.post("/login", dependencies=CSRF)
def login(request: Request, form: Form):
    f = Fields(form)
    client = request.client.host if request.client else "unknown"
    try:
        issued = services(request).patients.login(f.text("card_number"), f.text("pin"), client)
    except (NotAuthenticated, RateLimited) as err:
        return page(request, "me_login.html", err.status, values={"card_number": f.text("card_number")}, error=say(err))
    response = redirect(request, "/me")
    set_cookie(response, request, request.app.state.settings, PATIENT_COOKIE, issued.token)
    language = i18n.valid(issued.language)
    if language and not i18n.valid(request.cookies.get(i18n.LANG_COOKIE)):
        remember(response, request, language)
    return response


@router.post("/logout", dependencies=CSRF)
def logout(request: Request):
    token = request.cookies.get(PATIENT_COOKIE)
    if token:
        services(request).patients.logout(token)
    response = redirect(request, "/", "signed_out")
    clear_cookie(response, request, request.app.state.settings, PATIENT_COOKIE)
    return response


@router.get("")
def record(request: Request):
    svc = services(request)
    rec = svc.patients.record(require_patient(request))
    reviews = [review(e, rec.person) for e in rec.exams]
    return page(
        request,
        "me_home.html",
        rec=rec,
        reviews=reviews,
        purposes=CONSENT_PURPOSES,
        words=wording,
        age=rec.person.age_label(svc.deps.clock().date()),
    )


@router.get("/consents")
def consents(request: Request):
    svc, patient = services(request), require_patient(request)
    history = svc.patients.consents(patient)
    current = {c.purpose: c for c in history}
    try:  # the notice of the person's last decision: its sentence is shown next to "Say yes again"
        notice = notices.load(history[-1].notice_version, history[-1].language) if history else None
    except InvalidInput:
        notice = None
    return page(
        request,
        "me_consents.html",
        history=list(reversed(history)),
        current=current,
        notice=notice,
        purposes=CONSENT_PURPOSES,
        words=wording,
    )


@router.post("/consents", dependencies=CSRF)
def revoke(request: Request, form: Form):
    services(request).patients.revoke(require_patient(request), Fields(form).text("purpose"))
    return redirect(request, "/me/consents", "revoked")


@router.post("/consents/grant", dependencies=CSRF)
def grant(request: Request, form: Form):
    services(request).patients.grant(require_patient(request), Fields(form).text("purpose"))
    return redirect(request, "/me/consents", "granted_again")


@router.get("/access")
def accesses(request: Request):
    svc, patient = services(request), require_patient(request)
    views = svc.patients.accesses(patient)
    head = svc.transparency.tree_head()
    rows = [(v, verify_access_receipt(v.to_dict(), head.public_key)) for v in reversed(views)]
    return page(request, "me_access.html", rows=rows, head=head, words=wording)


@router.post("/export", dependencies=CSRF)
def export(request: Request):
    data = services(request).patients.export(require_patient(request))
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-carekey-data.json"'},
    )


@router.post("/export/fhir", dependencies=CSRF)
def export_fhir(request: Request):
    """The same data as a FHIR R4 Bundle, the health standard a clinic's or a country's system reads."""
    svc = services(request)
    assert svc.fhir_export is not None
    body = json.dumps(svc.fhir_export.export(require_patient(request)), indent=2, ensure_ascii=False)
    return Response(
        body,
        media_type="application/fhir+json",
        headers={"Content-Disposition": 'attachment; filename="my-carekey-data.fhir.json"'},
    )


@router.get("/erase")
def erase_form(request: Request):
    require_patient(request)
    return page(request, "me_erase.html", error=None)


@router.post("/erase", dependencies=CSRF)
def erase(request: Request, form: Form):
    patient = require_patient(request)
    if Fields(form).text("confirm") != "yes":
        return page(request, "me_erase.html", 422, error="tick the box to confirm that you want everything deleted")
    services(request).patients.erase(patient)
    response = redirect(request, "/", "erasure_done")
    clear_cookie(response, request, request.app.state.settings, PATIENT_COOKIE)
    return response
