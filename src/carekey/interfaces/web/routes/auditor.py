"""Auditor view: the latest signed tree head of the access log, a verification on demand, refusal counts."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request

from carekey.domain.purposes import Purpose
from carekey.interfaces.web.render import page
from carekey.interfaces.web.security import require_csrf
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action

router = APIRouter(prefix="/auditor")
AUDIT = Purpose.AUDIT.value


def _render(request: Request, report=None):
    svc = services(request)
    head = svc.transparency.tree_head()
    signed_at = datetime.fromtimestamp(head.sth.head.timestamp_ms / 1000, UTC)
    refusals = svc.transparency.refusals()
    return page(
        request,
        "auditor.html",
        head=head,
        signed_at=signed_at,
        signature_ok=head.sth.verify(head.public_key),
        refusals=refusals,
        refused_total=sum(r.count for r in refusals),
        report=report,
    )


@router.get("")
def view(request: Request):
    require_staff(request, Action.VERIFY_LOG)
    return _render(request)


@router.post("", dependencies=[Depends(require_csrf)])
def verify(request: Request):
    actor = require_staff(request, Action.VERIFY_LOG)
    report = services(request).audit.verify(actor, AUDIT)
    return _render(request, report)
