"""Who is signed in: staff (cookie holding the opaque token of ``AuthService``) and their role checks."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from carekey.domain.program import Role
from carekey.errors import Forbidden, NotAuthenticated
from carekey.interfaces.web.security import PATIENT_COOKIE, STAFF_COOKIE
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


def require_staff(request: Request, roles: Iterable[Role] | None = None) -> Actor:
    """The signed-in staff member (NotAuthenticated -> the sign-in page), with one of ``roles`` if given."""
    actor = current_staff(request)
    if actor is None:
        raise NotAuthenticated("please sign in")
    allowed = tuple(roles or ())
    if allowed and actor.role not in allowed:
        raise Forbidden(f"this screen is for {' or '.join(r.value.replace('_', ' ') for r in allowed)} accounts")
    return actor


def current_patient(request: Request):  # type: ignore[no-untyped-def]
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


def require_patient(request: Request):  # type: ignore[no-untyped-def]
    patient = current_patient(request)
    if patient is None:
        raise NotAuthenticated("please sign in with your card number and PIN")
    return patient
