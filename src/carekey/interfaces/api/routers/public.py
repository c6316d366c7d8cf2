"""Unauthenticated routes: health, public transparency figures, the log's signed tree head and consistency
proofs (so that anyone holding a receipt or an older head can check it with the public key alone)."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query

from carekey.interfaces.api.deps import Svc
from carekey.interfaces.api.problems import responses
from carekey.interfaces.api.schemas import RefusalOut

router = APIRouter(tags=["public"])


@router.get("/health", summary="Liveness", description='Always `{"status": "ok"}` when the server runs.')
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/transparency/refusals",
    response_model=list[RefusalOut],
    summary="Refused requests, counted",
    description="Public and unauthenticated: how many requests for purposes carekey never serves "
    "(law_enforcement, watchlist, kinship, bulk_export, other...) were refused, by purpose and month.",
)
def refusals(svc: Svc) -> list[RefusalOut]:
    return [RefusalOut(purpose=r.purpose, month=r.month, count=r.count) for r in svc.transparency.refusals()]


@router.get(
    "/transparency/admin-actions",
    summary="Admin actions, counted",
    description="Public and unauthenticated: how many accounts were created, approved, changed, reset, "
    "deactivated (and programs, sites, key operations), by kind and month. Each is also an entry of the "
    "signed transparency log.",
)
def admin_actions(svc: Svc) -> list[dict[str, object]]:
    return [{"action": a.action, "month": a.month, "count": a.count} for a in svc.transparency.admin_actions()]


@router.get(
    "/transparency/tree-head",
    summary="Latest signed tree head of the access log",
    description="Public: the newest Ed25519-signed tree head (size, root hash, timestamp) of the "
    "transparency log, signed on demand when the log has grown, with the log's public key. Patients check "
    "their access receipts against it; auditors save it (`carekey log head --save`).",
)
def tree_head(svc: Svc) -> dict[str, object]:
    return svc.transparency.tree_head().to_dict()


@router.get(
    "/transparency/tree-heads",
    summary="History of signed tree heads",
    description="Public: every signed tree head of the access log in the order they were signed, "
    "`limit` at a time from `start`, with the log's public key. Each head is also appended to a file "
    "outside the database; witnesses (`carekey log witness`) keep their own copies.",
    responses=responses(422),
)
def tree_heads(
    svc: Svc, start: Annotated[int, Query(ge=0, le=2**62)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, object]:
    heads = svc.transparency.heads(start, limit)
    return {
        "start": start,
        "signed_tree_heads": [h.to_dict() for h in heads],
        "public_key": svc.transparency.public_key().hex(),
    }


@router.get(
    "/transparency/consistency",
    summary="Consistency proof between two tree sizes",
    description="RFC 9162 section 2.1.4 proof that the tree of size `second` extends the tree of size "
    "`first` (audit path, base64), for linking a saved head to a newer one. A pair of sizes the log does not "
    "hold (`second` above the log size, `first` above `second`) is a 404.",
    responses=responses(404, 422),
)
def consistency(
    svc: Svc, first: Annotated[int, Query(ge=0, le=2**62)], second: Annotated[int, Query(ge=0, le=2**62)]
) -> dict[str, object]:
    proof = svc.transparency.consistency(first, second)
    return {"first": first, "second": second, "consistency_path": [base64.b64encode(p).decode() for p in proof]}
