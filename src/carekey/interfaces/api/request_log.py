"""A request log without personal data: method, route template, status, duration. One line per request.

Paths of carekey carry pseudonymous visit and person ids (personal data), so the log never writes the path
itself: it writes the template of the route that matched (``/visits/{visit_id}/people/{person_id}``), and for
a mounted folder (static files) the mount with ``{path}``. No query string, no client address, no header, no
user: who read what is in the transparency log, where it belongs. Lines go to the ``carekey.requests`` logger.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGGER = logging.getLogger("carekey.requests")


def route_template(scope: Scope, root_path: str) -> str:
    """The matched route's template, with the prefixes of the mounts it was reached through."""
    route: Any = scope.get("route")
    prefix = str(scope.get("root_path", ""))[len(root_path) :]  # grows by each mount the request went through
    if route is None or isinstance(route, Mount):  # a mount's own app (static files) answered, or nothing matched
        return f"{prefix}/{{path}}" if prefix else "{unmatched}"
    return f"{prefix}{route.path}"


class RequestLog:
    """ASGI middleware: after each HTTP request, one ``METHOD TEMPLATE STATUS DURATIONms`` line."""

    def __init__(self, app: ASGIApp, logger: logging.Logger = LOGGER) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        root_path = str(scope.get("root_path", ""))
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            ms = (time.perf_counter() - start) * 1000
            self.logger.info("%s %s %d %.1fms", scope["method"], route_template(scope, root_path), status, ms)
