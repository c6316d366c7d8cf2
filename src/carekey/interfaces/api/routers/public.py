"""Unauthenticated routes: health and public transparency figures."""

from __future__ import annotations

from fastapi import APIRouter

from carekey.interfaces.api.deps import Svc
from carekey.interfaces.api.schemas import RefusalOut

router = APIRouter(tags=["public"])


@router.get("/health", summary="Liveness", description="Always `{\"status\": \"ok\"}` when the server runs.")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/transparency/refusals", response_model=list[RefusalOut], summary="Refused requests, counted",
            description="Public and unauthenticated: how many requests for purposes carekey never serves "
            "(law_enforcement, watchlist, kinship, bulk_export, other...) were refused, by purpose and month.")
def refusals(svc: Svc) -> list[RefusalOut]:
    return [RefusalOut(purpose=r.purpose, month=r.month, count=r.count) for r in svc.transparency.refusals()]
