"""Program manager dashboard: pick a reporting period, release a differentially private figure (total, by
district, and the chosen breakdown), read it as charts with intervals, download it as CSV or DHIS2 JSON; the
budget left in every open period and the public count of refused requests. Scoped by the service to the
manager's program. No row is ever shown (the service returns none)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from carekey.domain.purposes import Purpose
from carekey.errors import BudgetExhausted, InvalidInput
from carekey.interfaces.web.charts import release_charts
from carekey.interfaces.web.forms import Fields, form_data
from carekey.interfaces.web.i18n import say
from carekey.interfaces.web.render import page
from carekey.interfaces.web.security import require_csrf
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action
from carekey.services.statistics import EPSILON_MIN
from carekey.stats.exports import to_csv
from carekey.stats.releases import Statistic, outcomes

router = APIRouter(prefix="/dashboard")
Form = Annotated[FormData, Depends(form_data)]
STATS = Purpose.AGGREGATE_STATISTICS.value
TITLES = {
    "count": "People screened",
    "hypertension": "High blood pressure",
    "bmi_bands": "Body mass index",
    "blood_types": "Blood types",
    "glucose_bands": "Blood sugar",
}
BREAKDOWNS = (
    ("district", "Districts only"),
    ("district_sex", "District x sex"),
    ("district_age", "District x age band"),
)


def views() -> list[tuple[str, str]]:
    """(value, label) of what can be charted: the count, or one outcome of a statistic."""
    out = [("count:", "People screened (count)")]
    for stat in Statistic:
        if stat is Statistic.COUNT:
            continue
        for o in outcomes(stat):
            if o != "unknown" and not (stat is Statistic.HYPERTENSION and o == "no"):
                out.append((f"{stat.value}:{o}", f"{TITLES[stat.value]}: share {o.replace('_', ' ')}"))
    return out


def _render(request: Request, status: int = 200, period: str | None = None, **ctx):
    svc, actor = services(request), request.state.actor
    try:
        budget = svc.statistics.budget(actor, STATS, period=period)
    except InvalidInput:  # an unknown or future period in the URL: show the current one
        budget = svc.statistics.budget(actor, STATS)
    refusals = svc.transparency.refusals()
    past = svc.statistics.releases(actor, STATS, budget.period)
    cap = request.app.state.settings.stats_max_release_epsilon
    ctx = {
        "release": None,
        "charts": [],
        "errors": {},
        "values": {"view": "hypertension:yes", "epsilon": f"{min(0.5, cap):g}", "breakdown": "district_sex"},
    } | ctx
    return page(
        request,
        "dashboard.html",
        status,
        budget=budget,
        refusals=refusals,
        views=views(),
        breakdowns=BREAKDOWNS,
        past=past,
        cap=cap,
        eps_min=EPSILON_MIN,
        refused_total=sum(r.count for r in refusals),
        **ctx,
    )


@router.get("")
def dashboard(request: Request, period: str | None = None):
    require_staff(request, Action.STATISTICS)
    return _render(request, period=period)


def _view(f: Fields) -> tuple[str, str, str]:
    statistic, _, outcome = f.text("view").partition(":")
    if (statistic, outcome) not in {tuple(v.split(":")) for v, _ in views()}:
        f.errors["view"] = "choose a figure from the list"
    breakdown = f.text("breakdown") or "district"
    if breakdown not in dict(BREAKDOWNS):
        f.errors["breakdown"] = "choose a breakdown from the list"
    return statistic, outcome, breakdown


@router.post("", dependencies=[Depends(require_csrf)])
def release(request: Request, form: Form):
    actor = require_staff(request, Action.STATISTICS)
    f = Fields(form)
    statistic, outcome, breakdown = _view(f)
    epsilon = f.number("epsilon", required=True)
    period = f.text("period") or None
    if f.errors:
        return _render(request, 422, period, errors=f.errors, values=f.values())
    try:
        result = services(request).statistics.release(actor, STATS, statistic, float(epsilon or 0), period=period)
    except (InvalidInput, BudgetExhausted) as err:
        key = "period" if err.detail.get("field") == "period" else "epsilon"
        f.errors[key] = say(err)
        return _render(request, err.status, period if key != "period" else None, errors=f.errors, values=f.values())
    return _render(
        request,
        period=str(result["period"]),
        release=result,
        charts=release_charts(result, outcome or None, breakdown),
        values=f.values(),
        title=TITLES.get(statistic, statistic),
    )


@router.get("/releases/{release_id}")
def show(request: Request, release_id: str, view: str = "", breakdown: str = "district_sex"):
    actor = require_staff(request, Action.STATISTICS)
    rel = services(request).statistics.get_release(actor, STATS, release_id)
    body = rel.body | {"id": rel.id}
    stat = rel.statistic
    wanted = view.partition(":")
    outcome = (
        wanted[2]
        if wanted[0] == stat and view in dict(views())
        else next((v.partition(":")[2] for v, _ in views() if v.startswith(f"{stat}:")), "")
    )
    if breakdown not in dict(BREAKDOWNS):
        breakdown = "district"
    values = {"view": f"{stat}:{outcome}", "breakdown": breakdown, "epsilon": f"{rel.epsilon:g}"}
    return _render(
        request,
        period=rel.period,
        release=body,
        charts=release_charts(body, outcome or None, breakdown),
        values=values,
        title=TITLES.get(stat, stat),
    )


@router.get("/releases/{release_id}/csv")
def download_csv(request: Request, release_id: str) -> Response:
    actor = require_staff(request, Action.STATISTICS)
    rel = services(request).statistics.get_release(actor, STATS, release_id)
    return Response(
        to_csv(rel),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{rel.id}-{rel.period}.csv"'},
    )


@router.get("/releases/{release_id}/dhis2")
def download_dhis2(request: Request, release_id: str) -> Response:
    actor = require_staff(request, Action.STATISTICS)
    payload = services(request).statistics.dhis2_payload(actor, STATS, release_id)
    return Response(
        json.dumps(payload.body, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{release_id}-dataValueSets.json"'},
    )
