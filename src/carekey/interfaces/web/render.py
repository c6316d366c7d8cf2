"""Rendering: Jinja2 templates with the CSRF field, the signed-in user and one-shot flash messages.

Flash messages travel in a cookie as a fixed *code* (never free text, never personal data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from carekey.interfaces.web import i18n
from carekey.interfaces.web.i18n import N_
from carekey.interfaces.web.security import CSRF_COOKIE, FLASH_COOKIE, clear_cookie, csrf_cookie, set_cookie

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
i18n.install(TEMPLATES.env)

FLASH = {
    "signed_out": N_("You are signed out."),
    "visit_closed": N_("Visit closed. Nothing more can be read or written through it."),
    "confirmed": N_("Person confirmed for this visit."),
    "enrolled": N_("Person enrolled with the consents recorded."),
    "same_person": N_(
        "The person was already enrolled: this visit now serves their record; the new one was discarded."
    ),
    "consent_saved": N_("Consent decision recorded."),
    "exam_recorded": N_("Exam recorded and encrypted under the person's key."),
    "pin_set": N_("Patient portal PIN set."),
    "task_resolved": N_("Answer recorded; it goes to the central registry at the next sync."),
    "account_saved": N_("Account saved. The action is in the signed log."),
    "site_saved": N_("Site saved. The action is in the signed log."),
    "program_saved": N_("Program saved. The action is in the signed log."),
    "key_rotated": N_("Key rotated. The action is in the signed log."),
    "password_changed": N_("Your password was changed."),
    "revoked": N_("Consent withdrawn. It takes effect immediately."),
    "granted_again": N_("You said yes again. It takes effect immediately."),
    "erasure_done": N_("Your data has been erased."),
    "referral_saved": N_("Referral recorded and encrypted under the person's key."),
    "referral_closed": N_("Referral closed."),
    "language_saved": N_("Language changed."),
}


def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    cookie = csrf_cookie(request)
    flash_code = request.cookies.get(FLASH_COOKIE)
    lang = i18n.choose(request)
    i18n.activate(lang)
    flash = FLASH.get(flash_code or "")
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    ctx = {
        "csrf": request.app.state.csrf.token_for(cookie),
        "me": getattr(request.state, "actor", None),
        "patient": getattr(request.state, "patient", None),
        "flash": i18n.gettext(flash) if flash else None,
        "page_lang": lang,
        "here": here[:300],
    } | ctx
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
