"""Differentially private statistics for program managers: releases per reporting period, the privacy budget,
CSV and DHIS2 exports, the DHIS2 push. No rows, ever; every route is scoped to the manager's program."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from carekey.interfaces.api.deps import CurrentActor, PurposeHeader, Svc
from carekey.interfaces.api.problems import responses
from carekey.services.statistics import EPSILON_MIN, STATISTICS
from carekey.stats.exports import to_csv
from carekey.stats.published import PublishedRelease

router = APIRouter(prefix="/stats", tags=["statistics"])


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statistic: str = Field(description=f"one of {', '.join(STATISTICS)}", examples=["hypertension"])
    epsilon: float = Field(
        strict=True,
        description=f"privacy cost of this release, between {EPSILON_MIN:g} and the "
        "per-release cap (Settings.stats_max_release_epsilon, default 1); anything else: 422",
        examples=[0.5],
    )
    period: str | None = Field(
        None,
        description="reporting period: 202611 or 2026-11 (month), 2026Q4 or 2026-Q4 "
        "(quarter), 2026 (year); default the current quarter",
        examples=["2026Q4"],
    )
    program_id: str | None = Field(None, description="optional: must be the program of the manager's sites")


class PushIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str = Field(description="the period whose unsent releases are posted to DHIS2", examples=["2026Q4"])


def summary(r: PublishedRelease) -> dict[str, object]:
    return {
        "id": r.id,
        "program_id": r.program_id,
        "period": r.period,
        "statistic": r.statistic,
        "epsilon": r.epsilon,
        "released_at": r.created_at.isoformat(),
        "sent_at": r.sent_at.isoformat() if r.sent_at else None,
    }


@router.post(
    "/releases",
    summary="Release one statistic for a period, with differential privacy",
    description="Program managers (purpose `aggregate_statistics`), for the program of their sites. People "
    "screened in the period who granted aggregate_statistics (latest exam in the period): program total, "
    "by district, district x sex, district x age band, consistent (children sum to parents, non-negative "
    "integers), small groups merged, approximate 95 % intervals. Charged to the program's budget for the "
    "period first; past it: 403.",
    responses=responses(400, 401, 403, 422),
)
def release(body: ReleaseIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> dict[str, object]:
    return svc.statistics.release(actor, purpose, body.statistic, body.epsilon, body.program_id, body.period)


@router.get(
    "/releases",
    summary="Past releases of the program (optionally of one period)",
    responses=responses(400, 401, 403, 422),
)
def releases(actor: CurrentActor, purpose: PurposeHeader, svc: Svc, period: str | None = None) -> list[dict]:
    return [summary(r) for r in svc.statistics.releases(actor, purpose, period)]


@router.get(
    "/releases/{release_id}", summary="One past release with its figures", responses=responses(400, 401, 403, 404)
)
def get_release(release_id: str, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> dict[str, object]:
    r = svc.statistics.get_release(actor, purpose, release_id)
    return r.body | summary(r)


@router.get(
    "/releases/{release_id}/csv",
    summary="A past release as CSV (every figure with its interval)",
    response_class=Response,
    responses=responses(400, 401, 403, 404),
)
def release_csv(release_id: str, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> Response:
    r = svc.statistics.get_release(actor, purpose, release_id)
    return Response(
        to_csv(r),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{r.id}-{r.period}.csv"'},
    )


@router.get(
    "/releases/{release_id}/dhis2",
    summary="A past release as DHIS2 dataValueSets JSON",
    description="Mapped with the program's DHIS2 mapping file (`carekey stats mapping init`).",
    responses=responses(400, 401, 403, 404, 422),
)
def release_dhis2(release_id: str, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> dict[str, object]:
    return svc.statistics.dhis2_payload(actor, purpose, release_id).body


@router.get(
    "/budget",
    summary="Privacy budget of the program for a period, and for every open period",
    responses=responses(400, 401, 403, 422),
)
def budget(
    actor: CurrentActor, purpose: PurposeHeader, svc: Svc, program_id: str | None = None, period: str | None = None
) -> dict[str, object]:
    b = svc.statistics.budget(actor, purpose, program_id, period)
    return {
        "program_id": b.program_id,
        "period": b.period,
        "epsilon_limit": b.limit,
        "epsilon_spent": b.spent,
        "epsilon_remaining": b.remaining,
        "releases": b.releases,
        "open_periods": [
            {
                "period": p.period,
                "label": p.label,
                "epsilon_limit": p.limit,
                "epsilon_spent": p.spent,
                "epsilon_remaining": p.remaining,
            }
            for p in b.open_periods
        ],
    }


@router.post(
    "/push",
    summary="Post the period's unsent releases to the configured DHIS2",
    description="POST <dhis2_url>/api/dataValueSets (basic or token auth from the environment); only released "
    "figures are sent. DHIS2's import summary is returned; on any failure (HTTP error, timeout, summary not "
    "SUCCESS) nothing is marked as sent: 502. No DHIS2 configured, or nothing left to send for the period: "
    "409.",
    responses=responses(400, 401, 403, 409, 422, 502),
)
def push(body: PushIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> dict[str, object]:
    r = svc.statistics.push(actor, purpose, body.period)
    return {
        "period": r.period,
        "sent_values": r.sent_values,
        "skipped": r.skipped,
        "releases": r.releases,
        "import_summary": r.summary,
    }
