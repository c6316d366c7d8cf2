"""Self-contained API documentation: Swagger UI served by carekey itself, no CDN, under a strict CSP.

The Swagger UI bundle and stylesheet come from the ``fastapi-offline`` package (MIT), which ships them as package
data; carekey serves them at ``/docs/assets/`` and adds its own start script (``docs_static/swagger-init.js``) so
that the page needs no inline script. The validator badge is turned off (it would send the spec to an outside
validator). Nothing on /docs reaches another origin: a site without internet gets the same page.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

VENDOR = Path(fastapi_offline.__file__).parent / "static"  # swagger-ui-bundle.js, swagger-ui.css
OWN = Path(__file__).parent / "docs_static"  # swagger-init.js
ASSETS = "/docs/assets"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API documentation</title>
<link rel="stylesheet" href="{root}{assets}/vendor/swagger-ui.css">
<link rel="icon" href="{root}/static/favicon.svg" type="image/svg+xml">
<script src="{root}{assets}/vendor/swagger-ui-bundle.js" defer></script>
<script src="{root}{assets}/swagger-init.js" defer></script>
</head>
<body>
<div id="swagger-ui" data-openapi="{root}{openapi}"></div>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve /docs (Swagger UI) and its assets from this process; /redoc leads to /docs."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url
    app.mount(f"{ASSETS}/vendor", StaticFiles(directory=VENDOR), name="docs-vendor")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = PAGE.format(title=app.title, root=root, assets=ASSETS, openapi=openapi_url)
        return HTMLResponse(html, headers=HEADERS)

    @app.get(f"{ASSETS}/swagger-init.js", include_in_schema=False)
    def init_script() -> FileResponse:
        return FileResponse(
            OWN / "swagger-init.js", media_type="text/javascript", headers={"X-Content-Type-Options": "nosniff"}
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> RedirectResponse:
        return RedirectResponse("/docs", status_code=308)
