"""Sync with site nodes (issue 19, docs/sync.md): registration, push batches, the catchment's changes. Thin: the
node's signature headers and the raw body go to ``CentralSync``, which decides (``carekey.policy.nodes``), logs
and applies; its answers go back byte for byte with the central log key's signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from carekey.errors import NotAuthenticated
from carekey.interfaces.api.deps import Svc
from carekey.interfaces.api.problems import responses
from carekey.services.sync_central import Answer, SignedCall
from carekey.services.sync_link import HEADER_SIGNATURE

router = APIRouter(prefix="/sync", tags=["sync"])
HEX32 = r"^[0-9a-f]{64}$"


class RegistrationIn(BaseModel):
    node_id: str = Field(min_length=1, max_length=40, description="chosen by the node (carekey node init)")
    site_id: str = Field(min_length=1, max_length=40, description="the site the node serves")
    public_key: str = Field(pattern=HEX32, description="Ed25519 key signing the node's requests (hex)")
    log_public_key: str = Field(pattern=HEX32, description="Ed25519 key signing the node log's tree heads (hex)")
    code_hash: str = Field(pattern=HEX32, description="SHA-256 of the one-time code the node shows (hex)")


NodeHeader = Annotated[str | None, Header(alias="X-Carekey-Node", description="The node's id")]
TimeHeader = Annotated[str | None, Header(alias="X-Carekey-Timestamp", description="Unix time, ms")]
NonceHeader = Annotated[str | None, Header(alias="X-Carekey-Nonce", description="A random nonce")]
SigHeader = Annotated[
    str | None,
    Header(alias="X-Carekey-Signature", description="Ed25519 (hex) over method, path, body hash, time, nonce"),
]


def _call(request: Request, body: bytes, node: str | None, ts: str | None, nonce: str | None, sig: str | None):
    if not (node and ts and nonce and sig):
        raise NotAuthenticated("a sync request carries X-Carekey-Node, -Timestamp, -Nonce and -Signature")
    try:
        return SignedCall(node[:40], int(ts), nonce, bytes.fromhex(sig), request.method, request.url.path, body)
    except ValueError:
        raise NotAuthenticated("malformed sync signature headers") from None


def _answer(answer: Answer) -> Response:
    return Response(answer.body, media_type="application/json", headers={HEADER_SIGNATURE: answer.signature})


@router.post(
    "/register",
    summary="Register a site node",
    description="`carekey node init`: the node's public keys, its site and the hash of the one-time code it "
    "shows, signed by the key it registers. The node receives nothing until one admin approved it (`carekey node "
    "approve`, with the code) and a second confirmed it (`carekey node confirm`).",
    responses=responses(400, 401, 404, 409),
)
async def register(body: RegistrationIn, svc: Svc, sig: SigHeader = None) -> dict[str, object]:
    try:
        signature = bytes.fromhex(sig or "")
    except ValueError:
        raise NotAuthenticated("the registration is signed by the key it registers (X-Carekey-Signature)") from None
    return await run_in_threadpool(svc.sync.register, body.model_dump(), signature)


@router.post(
    "/push",
    summary="Push a batch of a node's changes",
    description="One batch of the node's chain (seq, prev_hash), its log entries, signed head and consistency "
    "proof. Applied once; a retry of an applied batch is acknowledged again; a replayed or reordered batch or a "
    "rewritten node log is refused (409) and flags the node.",
    responses=responses(401, 403, 409, 413, 422),
)
async def push(
    request: Request,
    svc: Svc,
    node: NodeHeader = None,
    ts: TimeHeader = None,
    nonce: NonceHeader = None,
    sig: SigHeader = None,
) -> Response:
    call = _call(request, await request.body(), node, ts, nonce, sig)
    return _answer(await run_in_threadpool(svc.sync.push, call))


@router.get(
    "/changes",
    summary="The node's catchment changes",
    description="Changes after `after` (which acknowledges everything before it) of the people of the node's "
    "catchment only, and erasures of people it holds; signed by the central log key.",
    responses=responses(401, 403),
)
async def changes(
    request: Request,
    svc: Svc,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    node: NodeHeader = None,
    ts: TimeHeader = None,
    nonce: NonceHeader = None,
    sig: SigHeader = None,
) -> Response:
    call = _call(request, b"", node, ts, nonce, sig)
    return _answer(await run_in_threadpool(svc.sync.changes, call, after))
