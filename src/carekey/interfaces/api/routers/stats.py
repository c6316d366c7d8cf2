"""Differentially private statistics for program managers: releases and the privacy budget. No rows."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from carekey.interfaces.api.deps import CurrentActor, PurposeHeader, Svc
from carekey.interfaces.api.problems import responses
from carekey.services.statistics import STATISTICS
from carekey.stats.mechanisms import MAX_EPSILON, MIN_EPSILON

router = APIRouter(prefix="/stats", tags=["statistics"])


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statistic: str = Field(description=f"one of {', '.join(STATISTICS)}", examples=["hypertension"])
    epsilon: float = Field(ge=MIN_EPSILON, le=MAX_EPSILON, allow_inf_nan=False, examples=[0.5],
                           description=f"privacy cost of this release, from {MIN_EPSILON} to {MAX_EPSILON:g}")
    program_id: str | None = Field(None, description="needed only when there are several programs")


@router.post("/releases", summary="Release one statistic with differential privacy",
             description="Program managers (purpose `aggregate_statistics`). Counts by district x sex x age band over "
             "people who granted aggregate_statistics (latest exam each), discrete Laplace noise (OpenDP), each figure "
             "with its 95 % interval. Charged to the program's privacy budget first; past the budget: 403.",
             responses=responses(400, 401, 403, 422))
def release(body: ReleaseIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> dict[str, object]:
    return svc.statistics.release(actor, purpose, body.statistic, body.epsilon, body.program_id)


@router.get("/budget", summary="Privacy budget of the program", responses=responses(400, 401, 403, 422))
def budget(actor: CurrentActor, purpose: PurposeHeader, svc: Svc, program_id: str | None = None) -> dict[str, object]:
    b = svc.statistics.budget(actor, purpose, program_id)
    return {"program_id": b.program_id, "epsilon_limit": b.limit, "epsilon_spent": b.spent,
            "epsilon_remaining": b.remaining, "releases": b.releases}
