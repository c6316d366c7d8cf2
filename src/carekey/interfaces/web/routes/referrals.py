"""Referrals in the clinician's visit (record, close) and the site's follow-up list (codes only, close from it).

The list shows person and visit codes, never a name, a reason or a place: the record opens only in a visit where
the person is present (the registrar identifies them, the clinician then sees the referral in that visit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from carekey.domain.referral import Urgency
from carekey.errors import InvalidInput
from carekey.interfaces.web.forms import Fields, form_data
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes.visits import CARE, CLOSINGS, CSRF, visit_url
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action

router = APIRouter()
Form = Annotated[FormData, Depends(form_data)]


@router.post("/visit/{visit_id}/referral", dependencies=CSRF)
def record(request: Request, visit_id: str, form: Form):
    actor = require_staff(request, Action.RECORD_REFERRAL)
    svc, f = services(request), Fields(form)
    visit = svc.visits.get(actor, visit_id)
    if visit.person_id is None:
        raise InvalidInput("the registrar has not confirmed a person for this visit yet")
    svc.referrals.record(
        actor,
        visit.id,
        CARE,
        visit.person_id,
        f.text("to_where"),
        f.text("reason"),
        f.text("urgency") or Urgency.ROUTINE.value,
    )
    return redirect(request, visit_url(visit.id), "referral_saved")


@router.post("/visit/{visit_id}/referral/{referral_id}/close", dependencies=CSRF)
def close_in_visit(request: Request, visit_id: str, referral_id: str, form: Form):
    actor = require_staff(request, Action.CLOSE_REFERRAL)
    services(request).referrals.close(actor, referral_id, CARE, Fields(form).text("closed_as"))
    return redirect(request, visit_url(visit_id), "referral_closed")


def _site(request: Request, site: str) -> str:
    actor = request.state.actor
    return site if site else next(iter(sorted(actor.site_ids)), "")


@router.get("/followup")
def followup(request: Request, site: str = ""):
    actor = require_staff(request, Action.FOLLOWUP_LIST)
    svc = services(request)
    site_id = _site(request, site[:40])
    items = svc.referrals.followup(actor, site_id, CARE)
    names = {s.id: s.name for s in svc.admin.sites() if s.id in actor.site_ids}
    return page(request, "followup.html", items=items, site_id=site_id, sites=names, closings=CLOSINGS)


@router.post("/followup/{referral_id}/close", dependencies=CSRF)
def close_from_list(request: Request, referral_id: str, form: Form):
    actor = require_staff(request, Action.CLOSE_REFERRAL)
    f = Fields(form)
    services(request).referrals.close(actor, referral_id, CARE, f.text("closed_as"))
    site = f.text("site")[:40]
    return redirect(request, "/followup" + (f"?site={site}" if site in actor.site_ids else ""), "referral_closed")
