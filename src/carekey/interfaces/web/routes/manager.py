"""Program manager dashboard: differentially private releases as charts with 95 % intervals, the remaining
privacy budget, and the public count of refused requests. No row is ever shown (the service returns none)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from carekey.domain.program import Role
from carekey.domain.purposes import Purpose
from carekey.errors import BudgetExhausted, InvalidInput
from carekey.interfaces.web.charts import release_charts
from carekey.interfaces.web.forms import Fields, form_data
from carekey.interfaces.web.render import page
from carekey.interfaces.web.security import require_csrf
from carekey.interfaces.web.session import require_staff, services
from carekey.stats.releases import Statistic, outcomes

router = APIRouter(prefix="/dashboard")
Form = Annotated[FormData, Depends(form_data)]
STATS = Purpose.AGGREGATE_STATISTICS.value
TITLES = {"count": "People screened", "hypertension": "High blood pressure", "bmi_bands": "Body mass index",
          "blood_types": "Blood types", "glucose_bands": "Blood sugar"}


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


def _render(request: Request, status: int = 200, **ctx):  # type: ignore[no-untyped-def]
    svc, actor = services(request), request.state.actor
    budget = svc.statistics.budget(actor, STATS)
    refusals = svc.transparency.refusals()
    ctx = {"release": None, "charts": [], "errors": {}, "values": {"view": "hypertension:yes", "epsilon": "0.5"}} | ctx
    return page(request, "dashboard.html", status, budget=budget, refusals=refusals, views=views(),
                refused_total=sum(r.count for r in refusals), **ctx)


@router.get("")
def dashboard(request: Request):  # type: ignore[no-untyped-def]
    require_staff(request, (Role.PROGRAM_MANAGER,))
    return _render(request)


@router.post("", dependencies=[Depends(require_csrf)])
def release(request: Request, form: Form):  # type: ignore[no-untyped-def]
    actor = require_staff(request, (Role.PROGRAM_MANAGER,))
    f = Fields(form)
    statistic, _, outcome = f.text("view").partition(":")
    epsilon = f.number("epsilon")
    if (statistic, outcome) not in {tuple(v.split(":")) for v, _ in views()}:
        f.errors["view"] = "choose a figure from the list"
    if f.errors:
        return _render(request, 422, errors=f.errors, values=f.values())
    try:
        result = services(request).statistics.release(actor, STATS, statistic, float(epsilon or 0))
    except (InvalidInput, BudgetExhausted) as err:
        f.errors["epsilon"] = err.message
        return _render(request, err.status, errors=f.errors, values=f.values())
    return _render(request, release=result, charts=release_charts(result, outcome or None), values=f.values(),
                   title=TITLES.get(statistic, statistic))
