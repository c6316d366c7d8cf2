"""Web security: response headers (strict CSP, no framing), cookie attributes, and CSRF tokens.

CSRF uses the *signed double-submit cookie* pattern (OWASP CSRF cheat sheet): every browser gets a random
``ck_csrf`` cookie (HttpOnly, SameSite=Strict); each form carries ``HMAC(server secret, cookie)`` in a hidden
``csrf`` field; a POST whose field does not match its cookie is refused with 403 before any service runs.
The signature stops an attacker who can plant a cookie (a sibling subdomain) from forging a matching field.
The secret is random per process: after a restart an open form must be reloaded (the error page says so).
Hand-written: a few lines over ``hmac``, checked on the form field the route parses anyway (middleware such as
starlette-csrf expects the token in a request header, which a plain HTML form without JavaScript cannot send).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Form, Request
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from carekey.config import Settings
from carekey.errors import Forbidden

CSRF_COOKIE = "ck_csrf"
STAFF_COOKIE = "ck_staff"
PATIENT_COOKIE = "ck_patient"
FLASH_COOKIE = "ck_flash"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)

    async def dispatch(self, request, call_next):
        response = await call_next(request)
        for name, value in HEADERS.items():
            if name == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        return response


class Csrf:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def token_for(self, cookie: str) -> str:
        return hmac.new(self._secret, cookie.encode(), hashlib.sha256).hexdigest()

    def offer_for(self, cookie: str, visit_id: str, person_id: str) -> str:
        """Signature of "this candidate was shown in this visit to this browser": the confirm form carries it,
        so a registrar can confirm only a person that a search of this visit just offered."""
        return hmac.new(self._secret, f"offer\0{cookie}\0{visit_id}\0{person_id}".encode(), hashlib.sha256).hexdigest()

    def verify_offer(self, cookie: str | None, visit_id: str, person_id: str, field: str | None) -> None:
        if not cookie or not field or not hmac.compare_digest(self.offer_for(cookie, visit_id, person_id), field):
            raise Forbidden("confirm only one of the candidates a search of this visit showed; search again")

    def verify(self, cookie: str | None, field: str | None) -> None:
        if not cookie or not field or not hmac.compare_digest(self.token_for(cookie), field):
            raise Forbidden(
                "this form has expired or did not come from carekey; go back, reload the page and submit again"
            )


def csrf_cookie(request: Request) -> str:
    """The browser's CSRF cookie value, minted once per request if missing (set on the response later)."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not value:
        value = secrets.token_urlsafe(32)
        request.state.new_csrf = value
    return value


def require_csrf(request: Request, csrf: str = Form("")) -> None:
    """Route dependency for every POST: the ``csrf`` form field must be the signature of the cookie."""
    request.app.state.csrf.verify(request.cookies.get(CSRF_COOKIE), csrf)


def is_secure(request: Request, settings: Settings) -> bool:
    if settings.cookie_secure == "always":
        return True
    return settings.cookie_secure == "auto" and request.url.scheme == "https"


def set_cookie(
    response: Response, request: Request, settings: Settings, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=is_secure(request, settings)
    )


def clear_cookie(response: Response, request: Request, settings: Settings, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=is_secure(request, settings))
