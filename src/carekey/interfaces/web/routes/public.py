"""Public, unauthenticated: the count of refused requests (no personal data)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from carekey.interfaces.web import wording
from carekey.interfaces.web.render import page
from carekey.interfaces.web.session import current_staff, services

router = APIRouter()


@router.get("/transparency")
def transparency(request: Request):
    current_staff(request)
    rows = services(request).transparency.refusals()
    admin = services(request).transparency.admin_actions()
    return page(
        request,
        "transparency.html",
        rows=rows,
        total=sum(r.count for r in rows),
        admin=admin,
        admin_action=wording.admin_action,
    )
