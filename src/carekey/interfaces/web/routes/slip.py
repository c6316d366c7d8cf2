"""The visit slip the person keeps: visit code, card number, next check-up, what to see a clinic about (only when
the person agreed to print it: flags to act on and where they are referred), and a QR code holding only the card number.

The QR code is made on the server with segno (a maintained pure-Python QR encoder, ISO/IEC 18004) as a PNG data
URI, so the page needs no script and no outside request (the CSP allows ``img-src data:``). It is always a full
QR symbol (``make_qr``), never a Micro QR that most phone readers cannot read."""

from __future__ import annotations

import segno
from fastapi import APIRouter, Request

from carekey.domain.followup import review
from carekey.domain.program import Role
from carekey.errors import InvalidInput
from carekey.interfaces.web.render import page
from carekey.interfaces.web.routes.visits import CARE
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action

router = APIRouter(prefix="/visit/{visit_id}")


def card_qr(card_number: str) -> str:
    """A QR code (error correction M, 4 px modules, 4-module quiet zone) of the card number, as a data URI."""
    return segno.make_qr(card_number, error="m").png_data_uri(scale=4, border=4)


@router.get("/slip")
def slip(request: Request, visit_id: str, advice: str = ""):
    actor = require_staff(request, Action.READ_PERSON)
    svc = services(request)
    visit = svc.visits.get(actor, visit_id)
    visit.require_open()
    if visit.person_id is None:
        raise InvalidInput("confirm or enroll the person first: the slip carries their card number")
    person = svc.people.read(actor, visit.id, CARE, visit.person_id).person
    latest, referrals = None, []
    if actor.role is Role.CLINICIAN:  # only a clinician reads exams and referrals (policy: read_exams, read_referrals)
        exams = svc.exams.read(actor, visit.id, CARE, visit.person_id)
        latest = review(exams[-1], person) if exams else None
        referrals = [r for r in svc.referrals.for_person(actor, visit.id, CARE, visit.person_id) if r.is_open]
    agreed = advice == "1" and (latest is not None or bool(referrals))
    return page(
        request,
        "slip.html",
        visit=visit,
        card=person.card_number,
        qr=card_qr(person.card_number),
        latest=latest,
        referrals=referrals if agreed else [],
        advice=agreed,
        offer_referrals=bool(referrals),
    )
