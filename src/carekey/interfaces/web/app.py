"""Build the web sub-application and mount it at ``/`` behind the API routes (which keep their paths)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from carekey.config import Settings
from carekey.errors import CarekeyError, Forbidden, NotAuthenticated, StorageUnavailable
from carekey.interfaces.web import i18n
from carekey.interfaces.web.i18n import N_, gettext, say
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes import ROUTERS
from carekey.interfaces.web.security import Csrf, SecurityHeaders
from carekey.services.container import Services
from carekey.services.sync_node import SyncRunner

STATIC = Path(__file__).parent / "static"
#: the error titles of ``carekey.errors``, for the catalogs (the page shows them in the person's language)
TITLES = (
    N_("carekey error"),
    N_("Invalid input"),
    N_("Value out of range"),
    N_("Capture rejected, please recapture"),
    N_("Not authenticated"),
    N_("Forbidden"),
    N_("Purpose refused"),
    N_("Consent missing"),
    N_("Proof of presence needed"),
    N_("Too many requests"),
    N_("Not found"),
    N_("Conflict"),
    N_("Privacy budget exhausted"),
    N_("Template rejected"),
    N_("Remote system failed"),
    N_("Integrity check failed"),
    N_("Refusing to start: keys and database do not match"),
    N_("Storage unavailable"),
)


class Language:
    """Pure ASGI middleware: the request's language is current from the start (route code, form errors, pages)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            i18n.activate(i18n.choose(Request(scope)))
        await self.app(scope, receive, send)


def _back(request: Request) -> str:
    """Where the error page's button leads: the visit in progress, the portal, or the start."""
    visit_id = request.path_params.get("visit_id")
    if visit_id and request.url.path != f"/visit/{visit_id}":
        return f"/visit/{visit_id}"
    return "/me" if request.url.path.startswith("/me/") else "/"


def _install_errors(web: FastAPI) -> None:
    @web.exception_handler(CarekeyError)
    async def _carekey(request: Request, exc: CarekeyError) -> Response:
        if isinstance(exc, NotAuthenticated):
            patient = request.url.path == "/me" or request.url.path.startswith("/me/")
            return redirect(request, "/me/login" if patient else "/login")
        response = page(
            request,
            "error.html",
            exc.status,
            title=gettext(exc.title),
            message=say(exc),
            logged=isinstance(exc, Forbidden),
            kind=type(exc).__name__,
            back=_back(request),
        )
        if isinstance(exc, StorageUnavailable):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @web.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e.get("loc", ("?",))[-1]) for e in exc.errors())
        return page(
            request,
            "error.html",
            422,
            title=gettext("Invalid form"),
            message=gettext("check these fields: %(fields)s") % {"fields": fields},
            logged=False,
            kind="InvalidInput",
        )

    @web.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = gettext("Page not found") if exc.status_code == 404 else f"HTTP {exc.status_code}"
        return page(
            request, "error.html", exc.status_code, title=title, message=str(exc.detail), logged=False, kind="HTTP"
        )


def build_web(services: Services, settings: Settings, node_sync: SyncRunner | None = None) -> FastAPI:
    """The web UI; ``node_sync``: a site node's sync runner (its *Sync now* button), None elsewhere."""
    web = FastAPI(title="carekey web", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.services = services
    web.state.node_sync = node_sync
    web.state.settings = settings
    web.state.csrf = Csrf()
    web.add_middleware(SecurityHeaders)
    web.add_middleware(Language)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        web.include_router(router)
    _install_errors(web)
    return web


def mount(app: FastAPI, services: Services, settings: Settings, node_sync: SyncRunner | None = None) -> None:
    """Serve the UI at ``/``; API routes registered before stay where they are (they are matched first)."""
    app.mount("/", build_web(services, settings, node_sync), name="web")
