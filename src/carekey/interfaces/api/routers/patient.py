"""The person's own data (patient portal API): card number + PIN, then record, consents, accesses with proofs,
export, erasure. The purpose is always `patient_access` (no header needed); a staff token is refused here."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from carekey.interfaces.api.deps import CurrentPatient, Svc
from carekey.interfaces.api.problems import responses
from carekey.interfaces.api.schemas import CARD_PATTERN
from carekey.services.patients import consent_dict, exam_dict

router = APIRouter(prefix="/patient", tags=["patient"])
ALL = responses(401, 403, 404, 422)


class PatientTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    card_number: str = Field(max_length=64, pattern=CARD_PATTERN, examples=["NK4242"])
    pin: str = Field(max_length=64, examples=["432109"])
    program_id: str | None = Field(
        None, max_length=40, description="needed only if the card exists in several programs"
    )


@router.post(
    "/token",
    summary="Sign in with card number and PIN",
    description="Returns an opaque bearer token for the patient routes. Failed attempts are rate-limited per "
    "card and per address.",
    responses=responses(400, 401, 422, 429),
)
def login(body: PatientTokenIn, request: Request, svc: Svc) -> dict[str, object]:
    client = request.client.host if request.client else "unknown"
    t = svc.patients.login(body.card_number, body.pin, client, body.program_id)
    # no person id here: a sign-in answer is no way to learn the pseudonymous id behind a card number
    return {"access_token": t.token, "token_type": "bearer", "expires_at": t.expires_at.isoformat()}


@router.delete("/token", status_code=204, summary="Sign out", responses=responses(401))
def logout(request: Request, patient: CurrentPatient, svc: Svc) -> Response:
    svc.patients.logout(request.headers["authorization"].split(" ", 1)[1])
    return Response(status_code=204)


@router.get("/record", summary="My record and exams", responses=ALL)
def record(patient: CurrentPatient, svc: Svc) -> dict[str, object]:
    r = svc.patients.record(patient)
    return {
        "person": r.person.to_dict(),
        "consents": sorted(p.value for p in r.consents),
        "enrolled_at": r.enrolled_at.isoformat(),
        "enrolled_site": r.enrolled_site,
        "exams": [exam_dict(e) for e in r.exams],
        "biometric_images_kept": r.images_kept,
    }


@router.get("/consents", summary="My consent decisions", responses=ALL)
def consents(patient: CurrentPatient, svc: Svc) -> list[dict[str, object]]:
    return [consent_dict(c) for c in svc.patients.consents(patient)]


@router.post(
    "/consents/{purpose}/revoke",
    summary="Revoke one consent",
    description="Takes effect on the next request. Revoking biometric_identification deletes your templates "
    "and kept images at once; revoking biometric_image_retention deletes your kept images.",
    responses=ALL,
)
def revoke(purpose: str, patient: CurrentPatient, svc: Svc) -> dict[str, object]:
    return consent_dict(svc.patients.revoke(patient, purpose))


@router.post(
    "/consents/{purpose}/grant",
    summary="Say yes again to one purpose",
    description="For a purpose you refused or withdrew; takes effect on the next request. Staff can never do this "
    "for you without your proof at a screening. A person under 18 decides with a guardian, at a screening.",
    responses=ALL,
)
def grant(purpose: str, patient: CurrentPatient, svc: Svc) -> dict[str, object]:
    return consent_dict(svc.patients.grant(patient, purpose))


@router.get(
    "/accesses",
    summary="Every access to my data, with proofs",
    description="Role, site, purpose, time and outcome of each access, each with an inclusion receipt that "
    "verifies against GET /transparency/tree-head with the public key alone.",
    responses=ALL,
)
def accesses(patient: CurrentPatient, svc: Svc) -> list[dict[str, object]]:
    return [v.to_dict() for v in svc.patients.accesses(patient)]


@router.get("/export", summary="Export my data as JSON", responses=ALL)
def export(patient: CurrentPatient, svc: Svc) -> dict[str, object]:
    return svc.patients.export(patient)


@router.post(
    "/erasure",
    status_code=204,
    summary="Erase my data",
    description="Deletes your record, exams, consents and biometric templates and destroys your data key "
    "(crypto-shredding); the request itself stays in the access log.",
    responses=ALL,
)
def erase(patient: CurrentPatient, svc: Svc) -> Response:
    svc.patients.erase(patient)
    return Response(status_code=204)
