"""``405 Method Not Allowed`` for API paths, as a problem document with ``Allow`` (RFC 9110 section 15.5.6).

The web UI is mounted at ``/`` behind the API routes, so Starlette's router, finding an API path whose method
does not match (``TRACE /auth/token``, ``PUT /visits/{visit_id}``), goes on to the mount and the web UI answers
an HTML ``404 Page not found``. ``MethodNotAllowed`` looks first: when a path of the OpenAPI document matches the
request but its method is not one the document gives that path, and no route (a web page) takes the request
either, the answer is ``405`` with the methods the document does give. Anything else passes through untouched
(the web UI keeps its own answers).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.routing import Match, Mount, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from carekey.interfaces.api.problems import problem

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def documented_paths(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Each path of the app's OpenAPI document as a pattern, with the methods the document gives it."""
    cached = getattr(app.state, "documented_paths", None)
    if cached is None:
        cached = [
            (compile_path(path)[0], frozenset(m.upper() for m in ops if m in HTTP_METHODS))
            for path, ops in app.openapi().get("paths", {}).items()
        ]
        app.state.documented_paths = cached
    return cached


def allowed_methods(app: Any, scope: Scope) -> set[str] | None:
    """The methods the OpenAPI document gives the request's path when the request's method is not one of them and
    no route (a web page, the documentation) takes the request as it is; None otherwise."""
    path, method = scope["path"], scope["method"]
    allowed: set[str] = set()
    for pattern, methods in documented_paths(app):
        if pattern.match(path):
            if method in methods:
                return None
            allowed |= methods
    if not allowed:
        return None
    for route in app.routes:
        if isinstance(route, Mount) and route.path == "":  # the web UI, mounted at /
            match, child = route.matches(scope)
            routes = list(getattr(route.app, "routes", [])) if match is Match.FULL else []
            inner = {**scope, **child}
            if any(r.matches(inner)[0] is Match.FULL for r in routes):
                return None
        elif route.matches(scope)[0] is Match.FULL:
            return None
    return allowed


class MethodNotAllowed:
    """ASGI middleware answering undeclared methods on API paths with 405, ``Allow`` and a problem document."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "app" in scope:
            allowed = allowed_methods(scope["app"], scope)
            if allowed is not None:
                allow = ", ".join(sorted(allowed))
                response = problem(
                    Request(scope),
                    405,
                    "Method not allowed",
                    f"{scope['method']} is not a method of this resource; it accepts {allow}",
                    "method-not-allowed",
                    {"Allow": allow},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
