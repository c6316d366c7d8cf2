"""Request-size limits and the client address, before any route sees a request.

Body size (``BodyLimit``, a pure ASGI middleware): biometric image uploads (the web UI's ``/identify`` and
``/capture`` forms) may carry ``Settings.upload_max_bytes`` plus a little form overhead; every other request body
``Settings.max_json_bytes`` (64 KiB by default). A declared ``Content-Length`` above the limit is answered ``413``
with a problem document before a byte is read; a body sent without a length is counted while it streams and
refused the same way as soon as it passes the limit, so an oversized body is never held in memory.

Client address (``install_proxy_headers``): ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are honoured only when
the connection comes from one of ``Settings.trusted_proxies`` (uvicorn's ProxyHeadersMiddleware, right-most
untrusted hop), never by default: otherwise anyone could pick a fresh address per login attempt and reset the
per-address limit. ``carekey serve`` turns uvicorn's own proxy-header handling off (it trusts 127.0.0.1).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carekey.config import Settings
from carekey.interfaces.api.problems import problem

UPLOAD_PATHS = ("/identify", "/capture", "/biometrics")  # routes that take image files (multipart)
UPLOAD_FILES = 2  # an identification carries up to one image per position: two fingers or two eyes
FORM_OVERHEAD = 64 * 1024


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than this route accepts ({limit} bytes)")
        self.limit = limit


SYNC_PUSH_BYTES = 4 * 1024 * 1024  # a site node's push batch (docs/sync.md: at most 500 changes or 4 MB)


def body_limit(settings: Settings, path: str) -> int:
    if path == "/sync/push":
        return SYNC_PUSH_BYTES
    if path.rstrip("/").endswith(UPLOAD_PATHS):
        return UPLOAD_FILES * settings.upload_max_bytes + FORM_OVERHEAD
    return settings.max_json_bytes


class BodyLimit:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, scope["path"])
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
            await _too_large(scope, receive, send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem(
        Request(scope),
        413,
        "Content too large",
        f"the request body is larger than this route accepts ({limit} bytes)",
        "content-too-large",
        {"Connection": "close"},
        limit=limit,
    )
    await response(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    """Body limits and, when proxies are configured, the trusted client address."""

    @app.exception_handler(BodyTooLarge)
    async def _body(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return problem(
            request,
            413,
            "Content too large",
            str(exc.detail),
            "content-too-large",
            {"Connection": "close"},
            limit=exc.limit,
        )

    app.add_middleware(BodyLimit, settings=settings)
    if settings.trusted_proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))


def uvicorn_options() -> dict[str, object]:
    """How ``carekey serve`` runs uvicorn: its proxy-header handling off (``install`` does it, for the configured
    proxies only); no per-request access log (request paths carry pseudonymous ids)."""
    return {"proxy_headers": False, "access_log": False, "log_level": "info"}
