"""A person within a visit: enroll, look up (at most 5 candidates), read, consent, exams, erase.

There is deliberately no route that lists people."""

from __future__ import annotations

from fastapi import APIRouter, Response

from carekey.domain.consent import Grantor
from carekey.errors import InvalidInput
from carekey.interfaces.api.deps import CurrentActor, PurposeHeader, Svc
from carekey.interfaces.api.problems import responses
from carekey.interfaces.api.schemas import (
    CandidateOut,
    ConsentDecisionIn,
    ConsentOut,
    EnrollIn,
    EraseIn,
    ExamIn,
    ExamOut,
    LookupIn,
    PersonOut,
    PinIn,
    proof_of,
)

router = APIRouter(prefix="/visits/{visit_id}", tags=["people"])
ALL = responses(400, 401, 403, 404, 409, 422)


@router.post(
    "/people",
    status_code=201,
    response_model=PersonOut,
    summary="Enroll a person",
    description="Create the person with the consent form signed now. `care_record` must be granted: "
    "without it nothing is stored (use /screenings). A duplicate card number is a 409. Someone enrolled in "
    "the program with the same name, birth year and village is a 409 `possible-duplicate` listing them "
    "(logged, offered to this visit: open their record if it is them), unless `confirm_new_person` is "
    "true.",
    responses=ALL,
)
def enroll(visit_id: str, body: EnrollIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> PersonOut:
    view = svc.people.enroll(
        actor,
        visit_id,
        purpose,
        body.person.domain(),
        body.consent.domain(),
        body.pin,
        confirm_new=body.confirm_new_person,
    )
    return PersonOut.of(view)


@router.post(
    "/lookup",
    response_model=list[CandidateOut],
    summary="Find a returning person",
    description="By card number, or by name + birth year (+ village) with fuzzy matching. At most 5 "
    "candidates for the registrar to confirm; rate-limited per user; each candidate shown is logged.",
    responses=responses(400, 401, 403, 422, 429),
)
def lookup(visit_id: str, body: LookupIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> list[CandidateOut]:
    if body.card_number:
        found = svc.lookup.by_card(actor, visit_id, purpose, body.card_number)
    elif body.name and body.birth_year is not None:
        found = svc.lookup.by_name(actor, visit_id, purpose, body.name, body.birth_year, body.village)
    else:
        raise InvalidInput("give card_number, or name and birth_year")
    return [CandidateOut.of(c) for c in found]


@router.get(
    "/people/{person_id}",
    response_model=PersonOut,
    summary="Read a person's record",
    description="Confirms the person for this visit (binds the visit) and returns the decrypted record. Only a "
    "person this visit's own lookup or identification offered (or enrolled in it) can be reached, and once "
    "bound the visit serves that person only.",
    responses=ALL,
)
def read_person(visit_id: str, person_id: str, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> PersonOut:
    return PersonOut.of(svc.people.read(actor, visit_id, purpose, person_id))


ERASE_DOC = (
    "Crypto-shredding: the person's data key is destroyed, rows and biometrics deleted. The person proves "
    "they are here (`presence`: their PIN, or a second staff member of the site; or a biometric match or "
    "their enrollment in this visit)."
)


@router.delete(
    "/people/{person_id}",
    status_code=204,
    summary="Erase a person (at their request)",
    description=ERASE_DOC,
    responses=ALL,
)
def erase(
    visit_id: str, person_id: str, actor: CurrentActor, purpose: PurposeHeader, svc: Svc, body: EraseIn | None = None
) -> Response:
    svc.people.erase(actor, visit_id, purpose, person_id, proof_of(body.presence if body else None))
    return Response(status_code=204)


@router.post(
    "/people/{person_id}/erase",
    status_code=204,
    summary="Erase a person (at their request), with proof",
    description=ERASE_DOC + " The same as DELETE, for clients that cannot send a body with DELETE.",
    responses=ALL,
)
def erase_post(
    visit_id: str, person_id: str, body: EraseIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc
) -> Response:
    svc.people.erase(actor, visit_id, purpose, person_id, proof_of(body.presence))
    return Response(status_code=204)


@router.post(
    "/people/{person_id}/pin",
    status_code=204,
    summary="Set the person's patient PIN",
    description="6-8 digits (not one digit repeated, not a run like 123456), typed by the person; stored "
    "as an argon2id hash. With their card number it opens the patient routes (/patient/...). Setting or "
    "resetting a PIN needs the person's proof of presence (`presence`: their current PIN or a second staff "
    "member; or a biometric match or their enrollment in this visit) and signs out every open portal "
    "session of theirs.",
    responses=ALL,
)
def set_pin(
    visit_id: str, person_id: str, body: PinIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc
) -> Response:
    svc.people.set_pin(actor, visit_id, purpose, person_id, body.pin, proof_of(body.presence))
    return Response(status_code=204)


@router.get("/people/{person_id}/consents", response_model=list[ConsentOut], summary="Consent history", responses=ALL)
def consents(visit_id: str, person_id: str, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> list[ConsentOut]:
    return [ConsentOut.of(c) for c in svc.consents.history(actor, visit_id, purpose, person_id)]


@router.post(
    "/people/{person_id}/consents",
    status_code=201,
    response_model=ConsentOut,
    summary="Grant or revoke one consent",
    description="Revoking biometric_identification deletes the person's templates and kept images at once "
    "(and revokes biometric_image_retention); revoking biometric_image_retention deletes the kept images; "
    "granting biometric_image_retention needs biometric_identification. Any revocation takes effect on the "
    "next request. Granting again a purpose the person refused or withdrew needs their proof of presence "
    "(`presence`): staff can never override a withdrawal.",
    responses=ALL,
)
def decide_consent(
    visit_id: str, person_id: str, body: ConsentDecisionIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc
) -> ConsentOut:
    g = body.grantor.domain() if body.grantor else Grantor()
    rec = svc.consents.decide(
        actor,
        visit_id,
        purpose,
        person_id,
        body.purpose,
        body.granted,
        body.notice_version,
        body.language,
        g,
        proof_of(body.presence),
    )
    return ConsentOut.of(rec)


@router.post(
    "/people/{person_id}/exams",
    status_code=201,
    response_model=ExamOut,
    summary="Record an exam",
    description="Validated against plausible ranges (422 with the field and range when out of range), "
    "encrypted under the person's data key.",
    responses=ALL,
)
def record_exam(
    visit_id: str, person_id: str, body: ExamIn, actor: CurrentActor, purpose: PurposeHeader, svc: Svc
) -> ExamOut:
    return ExamOut.of(svc.exams.record(actor, visit_id, purpose, person_id, body.model_dump(exclude_none=True)))


@router.get("/people/{person_id}/exams", response_model=list[ExamOut], summary="Read a person's exams", responses=ALL)
def read_exams(visit_id: str, person_id: str, actor: CurrentActor, purpose: PurposeHeader, svc: Svc) -> list[ExamOut]:
    return [ExamOut.of(e) for e in svc.exams.read(actor, visit_id, purpose, person_id)]
