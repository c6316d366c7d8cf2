"""Who is signed in: staff (cookie holding the opaque token of ``AuthService``) and their role checks."""

from __future__ import annotations

from fastapi import Request

from carekey.errors import Forbidden, NotAuthenticated
from carekey.interfaces.web.i18n import gettext, role_word
from carekey.interfaces.web.security import PATIENT_COOKIE, STAFF_COOKIE
from carekey.policy.decision import Action, roles_for
from carekey.services.container import Services
from carekey.services.deps import Actor


def services(request: Request) -> Services:
    return request.app.state.services


def current_staff(request: Request) -> Actor | None:
    token = request.cookies.get(STAFF_COOKIE)
    if not token:
        return None
    try:
        actor = services(request).auth.authenticate(token)
    except NotAuthenticated:
        return None
    request.state.actor = actor
    return actor


def require_staff(request: Request, action: Action | None = None) -> Actor:
    """The signed-in staff member (NotAuthenticated -> the sign-in page). With ``action``, the policy action the
    screen performs, the member must have one of the roles the policy table allows for it (the screen's first
    gate; the service asks ``policy.decide`` again with the whole request, and logs)."""
    actor = current_staff(request)
    if actor is None:
        raise NotAuthenticated("please sign in")
    if action is not None and actor.role not in (allowed := roles_for(action)):
        names = ", ".join(sorted(role_word(r.value) for r in allowed))
        raise Forbidden(gettext("this screen is for %(roles)s accounts") % {"roles": names})
    return actor


def current_patient(request: Request):
    """The person signed in to the portal with card + PIN (a ``Patient`` of the patients service), or None."""
    token = request.cookies.get(PATIENT_COOKIE)
    if not token:
        return None
    try:
        patient = services(request).patients.authenticate(token)
    except NotAuthenticated:
        return None
    request.state.patient = patient
    return patient


def require_patient(request: Request):
    patient = current_patient(request)
    if patient is None:
        raise NotAuthenticated("please sign in with your card number and PIN")
    return patient
