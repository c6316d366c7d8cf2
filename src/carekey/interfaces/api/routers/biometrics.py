"""Fingerprint and iris through the API: capture (enroll a template), identify (1:N in the visit's program), and the
registrar's answer to a possible duplicate. The same service calls, policy, log entries and errors as the web UI
(``interfaces/web/routes/capture.py`` and ``identify.py``); images are multipart uploads, dropped with the request
(kept sealed only with the person's ``biometric_image_retention`` consent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from carekey.biometrics.modality import MODALITIES
from carekey.errors import InvalidInput
from carekey.interfaces.api.deps import CurrentActor, PurposeHeader, Svc
from carekey.interfaces.api.problems import responses
from carekey.interfaces.api.schemas import CandidateOut, PersonOut, Strict
from carekey.services.biometrics import OVERRIDE_REASONS, POSITIONS, BiometricService
from carekey.services.container import Services

router = APIRouter(prefix="/visits/{visit_id}", tags=["biometrics"])

CAPTURE_DOC = (
    "Quality-check, extract and protect one image of the person this visit serves (or was offered), and store the "
    "protected template (purpose `biometric_identification`, which the person must have granted). The image is "
    "discarded unless the person consented to `biometric_image_retention`.\n\n"
    "**Duplicate check:** the person's first template of a modality is first searched against the program. A hit "
    "above threshold answers `409` with a `urn:carekey:problem:possible-duplicate` problem whose `candidates` list "
    "(at most 5; name, birth year, sex, village, calibrated 0-100 score) is logged like an identification. Then "
    "either `POST .../duplicate/confirm` (it is that person) or send the capture again with `override` "
    "(`twins` or `false_match`; logged and counted for the program).\n\n"
    "A position already enrolled is a `409` unless `replace=true`.\n\n"
    "Example: `curl -H 'Authorization: Bearer T' -H 'X-Carekey-Purpose: biometric_identification' "
    "-F modality=fingerprint -F position=right_index -F image=@finger.tif .../visits/V-1/people/CK-1/biometrics`"
)
IDENTIFY_DOC = (
    "1:N search of the visit's program with one image, or one per position (repeat `image`, and give `position` "
    "once per image in the same order: `right_index`, `left_index`, ... or `right_eye`, `left_eye`). The person "
    "present must have heard the notice and agreed to this search: `person_agreed=true` (with `false` the search is "
    "denied, and the denial is logged). Candidates above threshold, best first, at most 5, each logged as shown "
    "and offered to this visit (open one with `GET .../people/{person_id}` to confirm). A rejected capture (`422`) "
    "is logged and counts against the identification rate limit.\n\n"
    "Example: `curl -H 'Authorization: Bearer T' -H 'X-Carekey-Purpose: biometric_identification' "
    "-F modality=iris -F person_agreed=true -F position=left_eye -F image=@eye.png .../visits/V-1/identify`"
)

ModalityField = Annotated[str, Form(description="fingerprint or iris", examples=["fingerprint"])]


class CaptureOut(BaseModel):
    template_id: str = Field(examples=["T-01HZX3"])
    modality: str = Field(examples=["fingerprint"])
    position: str = Field(examples=["right_index"])
    enrolled: dict[str, list[str]] = Field(
        description="every finger and eye of the person now enrolled",
        examples=[{"fingerprint": ["right_index"], "iris": []}],
    )


class ConfirmDuplicateIn(Strict):
    existing_person_id: str = Field(
        description="the candidate of the 409 possible-duplicate who is this person", examples=["CK-7F3K-92QD"]
    )


def _bio(svc: Services) -> BiometricService:
    if svc.biometrics is None:
        raise InvalidInput("biometrics are not available on this server; use the card or the name")
    return svc.biometrics


def _modality(modality: str, position: str | None = None) -> str:
    if modality not in MODALITIES:
        raise InvalidInput(f"modality must be one of {', '.join(MODALITIES)}", field="modality")
    if position is not None and position not in POSITIONS[modality]:
        raise InvalidInput(
            f"position of a {modality} must be one of {', '.join(POSITIONS[modality])}", field="position"
        )
    return modality


async def _read(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"the image is larger than {limit // (1024 * 1024)} MB", field="image")
    if not data:
        raise InvalidInput("the uploaded image is empty; capture again", field="image")
    return data


@router.post(
    "/people/{person_id}/biometrics",
    status_code=201,
    response_model=CaptureOut,
    summary="Capture a fingerprint or iris",
    description=CAPTURE_DOC,
    responses=responses(400, 401, 403, 404, 409, 413, 422, 503),
)
async def capture(
    visit_id: str,
    person_id: str,
    actor: CurrentActor,
    purpose: PurposeHeader,
    svc: Svc,
    modality: ModalityField,
    position: Annotated[str, Form(description="finger or eye", examples=["right_index"])],
    image: Annotated[UploadFile, File(description="the scanner's image (PNG, TIFF, BMP, JPEG)")],
    override: Annotated[
        str | None,
        Form(
            description="after a 409 possible-duplicate: why the person "
            f"is someone else ({', '.join(OVERRIDE_REASONS)})",
            examples=["twins"],
        ),
    ] = None,
    replace: Annotated[bool, Form(description="replace the template of a position already enrolled")] = False,
) -> CaptureOut:
    bio, modality = _bio(svc), _modality(modality, position)
    data = await _read(image, svc.deps.settings.upload_max_bytes)
    template_id = await run_in_threadpool(
        lambda: bio.enroll(
            actor, visit_id, purpose, person_id, modality, position, data, override=override or None, replace=replace
        )
    )
    enrolled = await run_in_threadpool(bio.enrolled_positions, person_id)
    return CaptureOut(template_id=template_id, modality=modality, position=position, enrolled=enrolled)


@router.post(
    "/identify",
    response_model=list[CandidateOut],
    summary="Identify by fingerprint or iris (1:N)",
    description=IDENTIFY_DOC,
    responses=responses(400, 401, 403, 404, 409, 413, 422, 429, 503),
)
async def identify(
    visit_id: str,
    actor: CurrentActor,
    purpose: PurposeHeader,
    svc: Svc,
    modality: ModalityField,
    image: Annotated[list[UploadFile], File(description="one image per position")],
    person_agreed: Annotated[bool, Form(description="the person present agreed to this search")],
    position: Annotated[
        list[str] | None, Form(description="the position of each image, in order (optional with a single image)")
    ] = None,
) -> list[CandidateOut]:
    bio, modality = _bio(svc), _modality(modality)
    positions = position or []
    if positions and len(positions) != len(image):
        raise InvalidInput("give one position per image, in the same order", field="position")
    if not positions and len(image) > 1:
        raise InvalidInput("with several images, give the position of each", field="position")
    if len(set(positions)) != len(positions):
        raise InvalidInput("each position once", field="position")
    for pos in positions:
        _modality(modality, pos)
    if len(image) > len(POSITIONS[modality]):
        raise InvalidInput("too many images", field="image")
    limit = svc.deps.settings.upload_max_bytes
    images = {pos: await _read(img, limit) for pos, img in zip(positions or [""], image, strict=True)}
    found = await run_in_threadpool(
        lambda: bio.identify(actor, visit_id, purpose, modality, images, person_agreed=person_agreed)
    )
    return [CandidateOut.of(c) for c in found]


@router.post(
    "/people/{person_id}/duplicate/confirm",
    response_model=PersonOut,
    summary="It is the same person: keep the existing record",
    description="After a `409 possible-duplicate` on the capture of a person enrolled in this visit: the "
    "registrar confirmed with the person that they are `existing_person_id` (a candidate of that 409). The "
    "record made in this visit is erased (crypto-shredded; nothing of it is copied) and the visit serves "
    "the existing person, whose record is returned. Both steps are logged.",
    responses=responses(400, 401, 403, 404, 409, 422, 503),
)
def confirm_duplicate(
    visit_id: str, person_id: str, body: ConfirmDuplicateIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc
) -> PersonOut:
    _bio(svc).confirm_duplicate(actor, visit_id, purpose, person_id, body.existing_person_id)
    return PersonOut.of(svc.people.read(actor, visit_id, purpose, body.existing_person_id))
