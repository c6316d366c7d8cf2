"""Who is signed in: staff (cookie holding the opaque token of ``AuthService``) and their role checks."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from carekey.domain.program import Role
from carekey.errors import Forbidden, NotAuthenticated
from carekey.interfaces.web.security import STAFF_COOKIE
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
