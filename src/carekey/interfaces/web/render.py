"""Rendering: Jinja2 templates with the CSRF field, the signed-in user and one-shot flash messages.

Flash messages travel in a cookie as a fixed *code* (never free text, never personal data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from carekey.interfaces.web.security import CSRF_COOKIE, FLASH_COOKIE, clear_cookie, csrf_cookie, set_cookie

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

FLASH = {
    "signed_out": "You are signed out.",
    "visit_closed": "Visit closed. Nothing more can be read or written through it.",
    "confirmed": "Person confirmed for this visit.",
    "enrolled": "Person enrolled with the consents recorded.",
    "same_person": "The person was already enrolled: this visit now serves their record; the new one was discarded.",
    "consent_saved": "Consent decision recorded.",
    "exam_recorded": "Exam recorded and encrypted under the person's key.",
    "pin_set": "Patient portal PIN set.",
    "account_saved": "Account saved. The action is in the signed log.",
    "password_changed": "Your password was changed.",
    "revoked": "Consent withdrawn. It takes effect immediately.",
    "erasure_done": "Your data has been erased.",
}


def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    cookie = csrf_cookie(request)
    flash_code = request.cookies.get(FLASH_COOKIE)
    ctx = {"csrf": request.app.state.csrf.token_for(cookie), "me": getattr(request.state, "actor", None),
           "patient": getattr(request.state, "patient", None), "flash": FLASH.get(flash_code or "")} | ctx
    response = TEMPLATES.TemplateResponse(request, name, ctx, status_code=status)
    settings = request.app.state.settings
    if getattr(request.state, "new_csrf", None):
        set_cookie(response, request, settings, CSRF_COOKIE, cookie)
    if flash_code:
        clear_cookie(response, request, settings, FLASH_COOKIE)
    return response


def redirect(request: Request, url: str, flash: str | None = None) -> RedirectResponse:
    """303 See Other (Post/Redirect/Get); ``url`` is built by the app, never taken from the request."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        assert flash in FLASH
        set_cookie(response, request, request.app.state.settings, FLASH_COOKIE, flash, max_age=60)
    return response
