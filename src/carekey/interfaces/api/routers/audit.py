"""The auditor's view: verify the stored transparency log (no personal data in the report)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from carekey.audit.promise import EntryPromise
from carekey.audit.sth import SignedTreeHead
from carekey.errors import InvalidInput
from carekey.interfaces.api.deps import CurrentActor, PurposeHeader, Svc
from carekey.interfaces.api.problems import responses

router = APIRouter(prefix="/audit", tags=["audit"])


class SavedHeadsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    heads: list[dict[str, object]] = Field(
        default_factory=list,
        description="signed tree heads saved outside carekey "
        "(as returned by GET /transparency/tree-head, `signed_tree_head`)",
    )
    promises: list[dict[str, object]] = Field(
        default_factory=list,
        description="signed entry promises saved outside carekey: the objects of a `CareKey-Log-Promise` "
        "response header, or access-view entries holding one under `promise`. Each must be signed by a log key "
        "(else `bad_promise`), name an entry stored with that leaf (else `promise_missing`) and be in a signed "
        "tree head within its delay (else `promise_late`).",
    )


def _report(svc, actor, purpose, heads, promises=()):
    try:
        parsed = [SignedTreeHead.from_dict(h) for h in heads]
    except ValueError as err:
        raise InvalidInput(str(err), field="heads") from None
    try:
        kept = [EntryPromise.from_dict(_promise_of(p)) for p in promises]
    except ValueError as err:
        raise InvalidInput(str(err), field="promises") from None
    return svc.audit.verify(actor, purpose, parsed, saved_promises=kept).to_dict()


def _promise_of(saved: dict[str, object]) -> dict[str, object]:
    """A promise, or an access-view entry holding one (as ``carekey log verify --promises`` reads them)."""
    inner = saved.get("promise")
    return inner if isinstance(inner, dict) else saved


@router.get(
    "/verify",
    summary="Verify the transparency log",
    description="Auditor only (purpose `audit`). Recomputes the Merkle tree from the stored entries and checks "
    "it against every stored signed tree head and each entry against its leaf commitment; lists every "
    "modified, removed, inserted or reordered entry by index.",
    responses=responses(400, 401, 403),
)
def verify(actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> dict[str, object]:
    return _report(svc, actor, purpose, [])


@router.post(
    "/verify",
    summary="Verify the log against heads and promises saved outside",
    description="As GET, plus signed tree heads the auditor saved elsewhere (a rewritten database cannot match "
    "them) and signed entry promises saved by people or auditors (`CareKey-Log-Promise` headers): a forged "
    "promise is `bad_promise`, a promised entry missing from the log `promise_missing`, one not in a signed "
    "tree head within its delay `promise_late`.",
    responses=responses(400, 401, 403, 422),
)
def verify_with_heads(body: SavedHeadsIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> dict[str, object]:
    return _report(svc, actor, purpose, body.heads, body.promises)
