"""The language switch on every page: a cookie for this browser, and for a signed-in staff member their account
setting too (it follows them to any device at their next sign-in)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from carekey.interfaces.web import i18n
from carekey.interfaces.web.forms import Fields, form_data
from carekey.interfaces.web.render import redirect
from carekey.interfaces.web.security import require_csrf, set_cookie
from carekey.interfaces.web.session import current_staff, services

router = APIRouter()
Form = Annotated[FormData, Depends(form_data)]
YEAR = 365 * 24 * 3600


def safe_next(raw: str) -> str:
    """Back to the page the switch was on: a path of this site only (no scheme, no host, no '//')."""
    if not raw.startswith("/") or raw.startswith("//") or "\\" in raw or any(ord(c) < 32 for c in raw):
        return "/"
    return raw[:300]


def remember(response, request: Request, lang: str) -> None:
    set_cookie(response, request, request.app.state.settings, i18n.LANG_COOKIE, lang, max_age=YEAR)


@router.post("/language", dependencies=[Depends(require_csrf)])
def switch(request: Request, form: Form):
    f = Fields(form)
    lang = i18n.valid(f.text("lang")) or i18n.DEFAULT
    actor = current_staff(request)
    if actor is not None:
        services(request).admin.set_own_language(actor, lang)
    response = redirect(request, safe_next(f.text("next")))
    remember(response, request, lang)
    return response
