"""Capture biometrics for a confirmed person by uploading images (a scanner plug-in can post the same form).

Quality feedback comes from the BiometricMatcher port: an unusable image raises CaptureRejected with the
reason, shown next to the file field with a prompt to capture again. Accepted images are protected into a
template by the matcher and discarded; only the template is stored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from carekey.biometrics.modality import MODALITIES
from carekey.domain.purposes import Purpose
from carekey.errors import CaptureRejected, InvalidInput
from carekey.interfaces.web.forms import Fields, form_data, read_upload
from carekey.interfaces.web.render import page
from carekey.interfaces.web.routes.visits import CSRF
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action

router = APIRouter(prefix="/visit/{visit_id}")
Form = Annotated[FormData, Depends(form_data)]
BIO = Purpose.BIOMETRIC_IDENTIFICATION.value
POSITIONS = {"fingerprint": ("right_index", "left_index", "right_thumb", "left_thumb", "right_middle", "left_middle"),
             "iris": ("right_eye", "left_eye")}


def _render(request: Request, visit_id: str, f: Fields, status: int = 200, accepted: str | None = None):  # type: ignore[no-untyped-def]
    svc = services(request)
    visit = svc.visits.get(request.state.actor, visit_id)
    visit.require_open()
    if visit.person_id is None:
        raise InvalidInput("confirm or enroll the person first")
    return page(request, "capture.html", status, visit=visit, positions=POSITIONS, values=f.values(),
                errors=f.errors, accepted=accepted, available=svc.biometrics is not None)


@router.get("/capture")
def capture_form(request: Request, visit_id: str):  # type: ignore[no-untyped-def]
    require_staff(request, Action.ENROLL_BIOMETRIC)
    return _render(request, visit_id, Fields(FormData()))


@router.post("/capture", dependencies=CSRF)
async def capture(request: Request, visit_id: str, form: Form):  # type: ignore[no-untyped-def]
    actor = await run_in_threadpool(require_staff, request, Action.ENROLL_BIOMETRIC)
    svc, f = services(request), Fields(form)
    if svc.biometrics is None:
        raise InvalidInput("biometric capture is not available on this server")
    modality, position = f.text("modality"), f.text("position")
    if modality not in MODALITIES:
        f.errors["modality"] = "choose fingerprint or iris"
    elif position not in POSITIONS[modality]:
        f.errors["position"] = f"choose one of: {', '.join(p.replace('_', ' ') for p in POSITIONS[modality])}"
    try:
        image = await read_upload(form.get("image"), request.app.state.settings.upload_max_bytes)
    except InvalidInput as err:
        f.errors["image"] = err.message
    if f.errors:
        return await run_in_threadpool(_render, request, visit_id, f, 422)
    visit = await run_in_threadpool(svc.visits.get, actor, visit_id)
    if visit.person_id is None:
        raise InvalidInput("confirm or enroll the person first")
    try:
        await run_in_threadpool(svc.biometrics.enroll, actor, visit.id, BIO, visit.person_id, modality, position,
                                image)
    except CaptureRejected as err:
        quality = err.detail.get("quality")
        f.errors["image"] = err.message + (f" (quality {quality})" if quality is not None else "")
        return await run_in_threadpool(_render, request, visit_id, f, 422)
    label = f"{modality} {position.replace('_', ' ')}"
    return await run_in_threadpool(_render, request, visit_id, Fields(FormData()), 200, label)
