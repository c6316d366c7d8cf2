"""The matcher service's HTTP API: four steps, each signed with the channel credential and carrying its log
receipt, plus ``GET /health``.

- ``POST /v1/enroll``: ``{receipt, program_id, modality, image (base64), with_probe}`` ->
  ``{template, probe, key_version}`` (protected forms, base64)
- ``POST /v1/duplicate-search``: ``{receipt, program_id, modality, probe}`` -> ``{found: [[template id, score]...]}``
- ``POST /v1/identify``: ``{receipt, program_id, modality, images: {position: base64}, among, top}`` ->
  ``{found: {position: [[template id, score]...]}}``
- ``POST /v1/renew``: ``{receipt, program_id, images: [{modality, image (base64)}...]}`` ->
  ``{templates: [base64...], key_version}`` (one person's kept images after a key rotation)
- ``GET /health``: key version, template count, shards (and templates per shard on Ray), receipts accepted and
  refused per reason (no credential needed: counts only).

Errors are RFC 9457 problem documents (``interfaces.api.problems``): 401 bad channel credential, 403 receipt
refused (``reason``), 422 capture rejected or bad input, 503 database unreachable.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool

from carekey.crypto import channel
from carekey.errors import InvalidInput, NotAuthenticated
from carekey.interfaces.api import problems
from carekey.services.matcher_node import MatcherNode

MAX_TOP = 1000


def _bytes(doc: dict[str, Any], name: str) -> bytes:
    try:
        return base64.b64decode(str(doc[name]), validate=True)
    except (KeyError, binascii.Error, ValueError):
        raise InvalidInput(f"{name} must be base64", field=name) from None


def _text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name} is required", field=name)
    return value


def create_matcher_app(node: MatcherNode, credential: bytes, on_startup: Callable[[], object] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:  # the gallery, loaded before the first request
            await run_in_threadpool(on_startup)
        yield

    app = FastAPI(title="carekey matcher", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    problems.install(app)

    async def signed(request: Request) -> dict[str, Any]:
        body = await request.body()
        why = channel.verify(credential, request.method, request.url.path, body, request.headers.get("authorization"))
        if why is not None:
            raise NotAuthenticated(f"matcher channel credential refused: {why}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise InvalidInput("the body is not JSON") from None
        if not isinstance(doc, dict):
            raise InvalidInput("the body is not a JSON object")
        return doc

    @app.post("/v1/enroll")
    async def enroll(request: Request) -> dict[str, Any]:
        doc = await signed(request)
        image = _bytes(doc, "image")
        made = await run_in_threadpool(
            node.enroll,
            doc.get("receipt"),
            _text(doc, "program_id"),
            _text(doc, "modality"),
            image,
            bool(doc.get("with_probe")),
        )
        return {
            "template": base64.b64encode(made.template).decode(),
            "probe": base64.b64encode(made.probe).decode() if made.probe is not None else None,
            "key_version": made.key_version,
        }

    @app.post("/v1/duplicate-search")
    async def duplicate_search(request: Request) -> dict[str, Any]:
        doc = await signed(request)
        found = await run_in_threadpool(
            node.duplicate_search,
            doc.get("receipt"),
            _text(doc, "program_id"),
            _text(doc, "modality"),
            _bytes(doc, "probe"),
        )
        return {"found": found}

    @app.post("/v1/identify")
    async def identify(request: Request) -> dict[str, Any]:
        doc = await signed(request)
        raw = doc.get("images")
        if not isinstance(raw, dict) or not raw:
            raise InvalidInput("images: one base64 image per position", field="images")
        images = {str(pos): _bytes(raw, pos) for pos in raw}
        among = doc.get("among")
        if among is not None and not (isinstance(among, list) and all(isinstance(a, str) for a in among)):
            raise InvalidInput("among: a list of template ids", field="among")
        top = doc.get("top", 200)
        if not isinstance(top, int) or not 1 <= top <= MAX_TOP:
            raise InvalidInput(f"top: 1..{MAX_TOP}", field="top")
        found = await run_in_threadpool(
            node.identify, doc.get("receipt"), _text(doc, "program_id"), _text(doc, "modality"), images, among, top
        )
        return {"found": found}

    @app.post("/v1/renew")
    async def renew(request: Request) -> dict[str, Any]:
        doc = await signed(request)
        raw = doc.get("images")
        if not isinstance(raw, list) or not raw or not all(isinstance(i, dict) for i in raw):
            raise InvalidInput("images: a list of {modality, image (base64)}", field="images")
        images = [(_text(item, "modality"), _bytes(item, "image")) for item in raw]
        made = await run_in_threadpool(node.renew, doc.get("receipt"), _text(doc, "program_id"), images)
        return {"templates": [base64.b64encode(t).decode() for t in made], "key_version": node.engine.key_version}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return await run_in_threadpool(node.health)

    return app
