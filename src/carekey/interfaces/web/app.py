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
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes import ROUTERS
from carekey.interfaces.web.security import Csrf, SecurityHeaders
from carekey.services.container import Services

STATIC = Path(__file__).parent / "static"


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
        response = page(request, "error.html", exc.status, title=exc.title, message=exc.message,
                        logged=isinstance(exc, Forbidden), kind=type(exc).__name__, back=_back(request))
        if isinstance(exc, StorageUnavailable):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @web.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e.get("loc", ("?",))[-1]) for e in exc.errors())
        return page(request, "error.html", 422, title="Invalid form", message=f"check these fields: {fields}",
                    logged=False, kind="InvalidInput")

    @web.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = "Page not found" if exc.status_code == 404 else f"HTTP {exc.status_code}"
        return page(request, "error.html", exc.status_code, title=title, message=str(exc.detail), logged=False,
                    kind="HTTP")


def build_web(services: Services, settings: Settings) -> FastAPI:
    web = FastAPI(title="carekey web", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.services = services
    web.state.settings = settings
    web.state.csrf = Csrf()
    web.add_middleware(SecurityHeaders)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        web.include_router(router)
    _install_errors(web)
    return web


def mount(app: FastAPI, services: Services, settings: Settings) -> None:
    """Serve the UI at ``/``; API routes registered before stay where they are (they are matched first)."""
    app.mount("/", build_web(services, settings), name="web")
