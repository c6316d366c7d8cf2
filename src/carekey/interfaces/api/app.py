"""The FastAPI application factory. Nothing is built at import time: ``create_app(settings)`` opens the
data folder (keys, database) through ``carekey.bootstrap``. A web UI may mount itself on the result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carekey import __version__, bootstrap
from carekey.audit.promise import collect_promises, encode_promises
from carekey.bootstrap import node as node_setup
from carekey.config import Settings
from carekey.errors import CarekeyError, StorageUnavailable
from carekey.interfaces.api import docs, limits, methods, problems
from carekey.interfaces.api.request_log import RequestLog
from carekey.interfaces.api.routers import (
    admin,
    audit,
    auth,
    biometrics,
    fhir,
    patient,
    people,
    public,
    stats,
    sync,
    visits,
)
from carekey.interfaces.cli.progress import track
from carekey.services.sync_node import SyncRunner
from carekey.services.transparency import TransparencyService

DESCRIPTION = """
carekey: a consent-first registry for community health-screening programs.

* Authenticate with `POST /auth/token`, then send `Authorization: Bearer <token>`.
* Every personal-data route names its purpose in the **`X-Carekey-Purpose`** header
  (`care_record`, `biometric_identification`). Purposes carekey never serves (`law_enforcement`,
  `watchlist`, `kinship`, `bulk_export`, ...) are refused with 403, logged and publicly counted at
  `GET /transparency/refusals`.
* Personal data is only reachable inside an open visit at one of your sites; there is no route that
  lists people; lookups return at most 5 candidates.
* Errors are RFC 9457 problem details (`application/problem+json`).
"""


log = logging.getLogger(__name__)
UNLOGGED = ("/health", "/transparency", "/static", "/docs", "/redoc", "/openapi.json")


def final_head(state: bootstrap.App) -> None:
    """Sign a last head when the log grew since the newest one; a log that fails its checks is left unsigned
    (its problem is reported by `carekey log verify` and at the next start)."""
    with suppress(CarekeyError):
        state.services.transparency.publish_if_due(force=True)


async def integrate_log(state: bootstrap.App) -> None:
    """The background integrator: every ``Settings.log_integrate_seconds``, hash committed log entries into the
    Merkle tree and sign a head (``TransparencyService.integrate``; skipped while another process integrates).
    A failure is logged and retried at the next tick; the entries stay committed and promised meanwhile."""
    while True:
        await asyncio.sleep(state.settings.log_integrate_seconds)
        try:
            await run_in_threadpool(state.services.transparency.integrate, False)
        except Exception as exc:  # noqa: BLE001 - a refused log (IntegrityError) or a storage hiccup: retry later
            log.warning(
                "log integration failed (%s: %s); retried in %s s",
                type(exc).__name__,
                exc,
                state.settings.log_integrate_seconds,
            )


async def sync_periodically(
    runner: SyncRunner | None, interval: int, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
) -> None:
    """A site node's periodic sync (issue 19): every ``interval`` seconds, one attempt; offline or refused, the
    outcome is kept for the node's sync screen and the next tick tries again. Nothing on a central registry, on a
    node whose key is locked, or with an interval of 0."""
    if runner is None or interval <= 0:
        return
    while True:
        await sleep(interval)
        outcome = await run_in_threadpool(runner.periodic)
        if not outcome.ok:
            log.info("periodic sync failed (%s); tried again in %s s", outcome.error, interval)


class SignTreeHeads:
    """A request that may have logged (reads are logged too) ends with a signed tree head when one is due (at most
    one per Settings.tree_head_seconds). While the last head is young nothing is read (an in-memory check on the
    event loop); then one read-only check (no write lock), and a write only to sign a due head. A pure ASGI
    middleware (Starlette's ``BaseHTTPMiddleware`` cost every request a task group and a body stream; see
    bench/results/load_profile.md): the check runs once the app has answered."""

    def __init__(self, app: ASGIApp, transparency: TransparencyService) -> None:
        self.app = app
        self.transparency = transparency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and not scope["path"].startswith(UNLOGGED) and self.transparency.may_be_due():
            # on a storage failure the request's own answer stands; the head is signed on a later request
            with suppress(StorageUnavailable):
                await run_in_threadpool(self.transparency.publish_if_due)


PROMISE_HEADER = "CareKey-Log-Promise"
PROMISE_HEADER_DOC = {
    "description": "The signed entry promises of the transparency-log entries this request committed (its access "
    "to personal data, each candidate shown...): base64url of a JSON array of promises (entry_id, leaf_hash, "
    "timestamp_ms, max_delay_ms, signature, key_id). Each promises that its entry will be in a signed tree head "
    "within max_delay_ms; save them and check them later with POST /audit/verify (`promises`) or "
    "`carekey log verify --promises`.",
    "schema": {"type": "string"},
}


class LogPromises:
    """Adds ``CareKey-Log-Promise`` to the answer of a request that committed log entries: their signed entry
    promises (``carekey.audit.promise``), published by the unit of work after the commit only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with collect_promises() as issued:

            async def send_with_promises(message: Message) -> None:
                if message["type"] == "http.response.start" and issued:
                    MutableHeaders(scope=message).append(PROMISE_HEADER, encode_promises(issued))
                await send(message)

            await self.app(scope, receive, send_with_promises)


def document_promise_header(app: FastAPI) -> None:
    """Declare ``CareKey-Log-Promise`` on the successful answers of every route that names a purpose (the routes of
    personal data) in the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for ops in schema.get("paths", {}).values():
            for op in ops.values():
                if not isinstance(op, dict) or not any(
                    p.get("in") == "header" and p.get("name", "").lower() == "x-carekey-purpose"
                    for p in op.get("parameters", [])
                ):
                    continue
                for status, response in op.get("responses", {}).items():
                    if status.startswith("2"):
                        response.setdefault("headers", {})[PROMISE_HEADER] = PROMISE_HEADER_DOC
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, built: bootstrap.App | None = None, web: bool = True) -> FastAPI:
    """The API, with the web UI mounted at ``/`` unless ``web`` is False (API routes are matched first)."""
    settings = settings or Settings()
    state = built or bootstrap.build(settings)
    state.services.transparency.check_log()  # never serve (and sign over) a log cut below a signed head
    runner = node_setup.node_runner(state)  # a site node unlocked with its passphrase: Sync now, periodic sync

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if state.services.biometrics is not None:  # the matcher's gallery, loaded before the first request
            await run_in_threadpool(state.services.biometrics.warm_up, track)
        integrator = asyncio.create_task(integrate_log(state))  # keeps the log's maximum merge delay
        syncer = asyncio.create_task(sync_periodically(runner, state.settings.node_sync_interval_seconds))
        yield
        for task in (integrator, syncer):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        final_head(state)  # what was logged until shutdown is covered by a signed head (and the heads file)
        if built is None:  # we opened it, we close it
            state.close()

    app = FastAPI(
        title="carekey",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,  # served by docs.install, without a CDN
        openapi_tags=[
            {"name": "auth", "description": "Staff login"},
            {"name": "visits", "description": "Person-present encounters"},
            {"name": "people", "description": "A person's data, within a visit"},
            {"name": "biometrics", "description": "Fingerprint and iris: capture, identify"},
            {"name": "admin", "description": "Users (no records)"},
            {"name": "patient", "description": "The person's own data (card + PIN)"},
            {"name": "statistics", "description": "Differentially private, within a budget"},
            {"name": "audit", "description": "Transparency log verification"},
            {"name": "public", "description": "Unauthenticated"},
            {"name": "fhir", "description": "FHIR R4 conformance (push-only, no FHIR reads)"},
            {"name": "sync", "description": "Site nodes: registration, signed push batches, catchment changes"},
        ],
    )
    app.state.carekey = state
    app.state.node_sync = runner
    problems.install(app)
    docs.install(app)
    limits.install(app, state.settings)  # body-size limits (413), X-Forwarded-For from trusted proxies only
    app.add_middleware(methods.MethodNotAllowed)  # an undeclared method on an API path: 405 + Allow, not the web 404
    for module in (auth, visits, people, biometrics, patient, stats, audit, admin, public, fhir, sync):
        app.include_router(module.router)
    document_promise_header(app)

    app.add_middleware(SignTreeHeads, transparency=state.services.transparency)
    app.add_middleware(LogPromises)

    if web:
        from carekey.interfaces.web import mount

        mount(app, state.services, state.settings, runner)
    app.add_middleware(RequestLog)  # outermost: sees the route each request matched, never the path itself
    return app
