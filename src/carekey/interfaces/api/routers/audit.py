"""The auditor's view: verify the stored transparency log (no personal data in the report)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

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


def _report(svc, actor, purpose, heads):
    try:
        parsed = [SignedTreeHead.from_dict(h) for h in heads]
    except ValueError as err:
        raise InvalidInput(str(err), field="heads") from None
    return svc.audit.verify(actor, purpose, parsed).to_dict()


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
    summary="Verify the log against heads saved outside",
    description="As GET, plus signed tree heads the auditor saved elsewhere (a rewritten database cannot match them).",
    responses=responses(400, 401, 403, 422),
)
def verify_with_heads(body: SavedHeadsIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> dict[str, object]:
    return _report(svc, actor, purpose, body.heads)
