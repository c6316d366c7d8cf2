"""Capture biometrics for a confirmed person by uploading images (a scanner plug-in can post the same form).

Quality feedback comes from the BiometricMatcher port: an unusable image raises CaptureRejected with the
reason, shown next to the file field with a prompt to capture again. Accepted images are protected into a
template by the matcher and discarded; only the template is stored.

After a capture the form moves on to the next finger or eye not yet enrolled; a position already enrolled asks
before it is replaced. The first capture of a modality may find a possible duplicate: the candidates are shown
with "same person" (``same_person``: the record made in this visit is discarded) and an override with a reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from carekey.biometrics.modality import MODALITIES
from carekey.domain.purposes import Purpose
from carekey.errors import CaptureRejected, Conflict, InvalidInput, PossibleDuplicate
from carekey.interfaces.web.forms import Fields, form_data, read_upload
from carekey.interfaces.web.i18n import gettext, say
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes.node import node_id_of
from carekey.interfaces.web.routes.visits import CARE, CSRF, visit_url
from carekey.interfaces.web.security import CSRF_COOKIE, csrf_cookie, require_csrf
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action
from carekey.services.biometrics import OVERRIDE_REASONS, POSITIONS
from carekey.services.sync_node import NodeSync

router = APIRouter(prefix="/visit/{visit_id}")
Form = Annotated[FormData, Depends(form_data)]
BIO = Purpose.BIOMETRIC_IDENTIFICATION.value
REPLACE = 'already enrolled: tick "Replace it" and upload again to replace it'


def next_position(modality: str, enrolled: dict[str, list[str]], after: str | None = None) -> str:
    """The position to capture next: the first one not yet enrolled after ``after`` (wrapping), else ``after``."""
    order = POSITIONS[modality]
    start = order.index(after) + 1 if after in order else 0
    for pos in order[start:] + order[:start]:
        if pos not in enrolled.get(modality, []):
            return pos
    return after or order[0]


def _render(
    request: Request,
    visit_id: str,
    f: Fields,
    status: int = 200,
    accepted: str | None = None,
    duplicates: list | None = None,
    ask_replace: bool = False,
):
    svc = services(request)
    visit = svc.visits.get(request.state.actor, visit_id)
    visit.require_open()
    if visit.person_id is None:
        raise InvalidInput("confirm or enroll the person first")
    enrolled = svc.biometrics.enrolled_positions(visit.person_id) if svc.biometrics else {}
    values = f.values()
    if not values.get("position"):  # a fresh form starts at the first finger not yet enrolled
        wanted = values.get("modality", "")
        modality = wanted if wanted in POSITIONS else "fingerprint"
        values = values | {"modality": modality, "position": next_position(modality, enrolled)}
    cookie, csrf = csrf_cookie(request), request.app.state.csrf
    offers = {c["person_id"]: csrf.offer_for(cookie, visit_id, c["person_id"]) for c in duplicates or []}
    return page(
        request,
        "capture.html",
        status,
        visit=visit,
        positions=POSITIONS,
        values=values,
        errors=f.errors,
        accepted=accepted,
        available=svc.biometrics is not None,
        enrolled=enrolled,
        duplicates=duplicates or [],
        offers=offers,
        reasons=OVERRIDE_REASONS,
        ask_replace=ask_replace,
    )


@router.get("/capture")
def capture_form(request: Request, visit_id: str):
    require_staff(request, Action.ENROLL_BIOMETRIC)
    return _render(request, visit_id, Fields(FormData()))


@router.post("/capture", dependencies=CSRF)
async def capture(request: Request, visit_id: str, form: Form):
    actor = await run_in_threadpool(require_staff, request, Action.ENROLL_BIOMETRIC)
    svc, f = services(request), Fields(form)
    biometrics = svc.biometrics
    if biometrics is None:
        raise InvalidInput("biometric capture is not available on this server")
    modality, position = f.text("modality"), f.text("position")
    override = f.text("override") or None
    if modality not in MODALITIES:
        f.errors["modality"] = "choose fingerprint or iris"
    elif position not in POSITIONS[modality]:
        f.errors["position"] = gettext("choose one of: %(positions)s") % {
            "positions": ", ".join(p.replace("_", " ") for p in POSITIONS[modality])
        }
    if override is not None and override not in OVERRIDE_REASONS:
        f.errors["override"] = "choose a reason from the list"
    try:
        image = await read_upload(form.get("image"), request.app.state.settings.upload_max_bytes)
    except InvalidInput as err:
        f.errors["image"] = say(err)
    if f.errors:
        return await run_in_threadpool(_render, request, visit_id, f, 422)
    visit = await run_in_threadpool(svc.visits.get, actor, visit_id)
    person_id = visit.person_id
    if person_id is None:
        raise InvalidInput("confirm or enroll the person first")
    node_id = await run_in_threadpool(node_id_of, request)
    if node_id is not None:  # a site node never enrolls itself: sealed for central enrollment at the next sync
        sealer = NodeSync(svc.deps, node_id)
        await run_in_threadpool(lambda: sealer.capture(actor, visit.id, BIO, person_id, modality, position, image))
        sealed = f"{modality} {position.replace('_', ' ')} " + gettext("(sealed, enrolled centrally at the next sync)")
        again = Fields(FormData({"modality": modality, "position": next_position(modality, {}, position)}))
        return await run_in_threadpool(_render, request, visit_id, again, 200, sealed)
    try:
        await run_in_threadpool(
            lambda: biometrics.enroll(
                actor,
                visit.id,
                BIO,
                person_id,
                modality,
                position,
                image,
                override=override,
                replace=f.text("replace") == "yes",
            )
        )
    except CaptureRejected as err:
        quality = err.detail.get("quality")
        f.errors["image"] = say(err) + (gettext(" (quality %(q)s)") % {"q": quality} if quality is not None else "")
        return await run_in_threadpool(_render, request, visit_id, f, 422)
    except PossibleDuplicate as err:
        f.errors["duplicate"] = say(err)
        candidates = err.detail.get("candidates")
        found = list(candidates) if isinstance(candidates, list) else []
        return await run_in_threadpool(lambda: _render(request, visit_id, f, 409, duplicates=found))
    except Conflict as err:
        if err.detail.get("field") != "position":
            raise
        f.errors["position"] = f"{position.replace('_', ' ')} is {REPLACE}"
        return await run_in_threadpool(lambda: _render(request, visit_id, f, 409, ask_replace=True))
    label = f"{modality} {position.replace('_', ' ')}"
    enrolled = await run_in_threadpool(biometrics.enrolled_positions, person_id)
    following = Fields(FormData({"modality": modality, "position": next_position(modality, enrolled, position)}))
    return await run_in_threadpool(_render, request, visit_id, following, 200, label)


@router.post("/same-person", dependencies=[Depends(require_csrf)])
def same_person(request: Request, visit_id: str, form: Form):
    """After a possible duplicate: the person enrolled in this visit is this candidate (offered by the check)."""
    actor = require_staff(request, Action.ENROLL_BIOMETRIC)
    svc, f = services(request), Fields(form)
    existing = f.text("person_id")
    request.app.state.csrf.verify_offer(request.cookies.get(CSRF_COOKIE), visit_id, existing, f.text("offer"))
    if svc.biometrics is None:
        raise InvalidInput("biometric capture is not available on this server")
    visit = svc.visits.get(actor, visit_id)
    if visit.person_id is None:
        raise InvalidInput("confirm or enroll the person first")
    svc.biometrics.confirm_duplicate(actor, visit_id, CARE, visit.person_id, existing)
    return redirect(request, visit_url(visit_id), "same_person")
