"""One function per FHIR resource, from carekey's domain objects, built with the library's models (validated on
construction; no FHIR JSON written by hand). References are the ``urn:uuid:`` fullUrls of ``systems.full_url``,
resolved by the receiving server inside a transaction Bundle or by the reader of a collection Bundle."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fhir.resources.R4B.auditevent import (
    AuditEvent,
    AuditEventAgent,
    AuditEventEntity,
    AuditEventEntityDetail,
    AuditEventSource,
)
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.consent import Consent, ConsentPolicy, ConsentProvision
from fhir.resources.R4B.encounter import Encounter, EncounterLocation
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference

from carekey.domain.access import AccessEvent
from carekey.domain.consent import ConsentRecord, GrantorKind
from carekey.domain.exam import BLOOD_TYPE_LOINC, SPECS, Exam
from carekey.domain.person import Person
from carekey.domain.program import Site
from carekey.domain.visit import Visit
from carekey.fhir import systems as S

VITALS = ("pulse", "height_cm", "weight_kg", "bmi")  # single-value vital signs; blood pressure is a panel
LABS = ("glucose_mmol_l", "hemoglobin_g_dl")


def ident(system: str, value: str) -> Identifier:
    return Identifier(system=system, value=value)


def ref(url: str) -> Reference:
    return Reference(reference=url)


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=system, code=code, display=display)], text=text)


def patient_url(person_id: str) -> str:
    return S.full_url("Patient", S.PERSON_ID, person_id)


def site_url(site_id: str) -> str:
    return S.full_url("Location", S.SITE_ID, site_id)


def visit_url(visit_id: str) -> str:
    return S.full_url("Encounter", S.VISIT_ID, visit_id)


def observation_key(exam: Exam, code: str) -> str:
    return f"{exam.id}:{code}"


def observation_url(exam: Exam, code: str) -> str:
    return S.full_url("Observation", S.OBSERVATION_ID, observation_key(exam, code))


def patient(person: Person, program_id: str, with_address: bool = False) -> Patient:
    """Identifiers (program id, card number), name, sex and birth YEAR only (a partial date); the address
    (district, village) only in the person's own export. Never anything biometric."""
    name = HumanName(
        family=person.family_name or None,
        given=[person.given_name] if person.given_name else None,
        text=person.full_name,
    )
    address = None
    if with_address and (person.district or person.village):
        address = [{"district": person.district or None, "city": person.village or None}]
    return Patient(
        identifier=[ident(S.PERSON_ID, person.id), ident(S.card_system(program_id), person.card_number)],
        name=[name],
        gender=person.sex.value,
        birthDate=f"{person.birth_year:04d}",
        address=address,
        communication=[{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": person.language}]}}],
    )


def location(site: Site) -> Location:
    return Location(
        identifier=[ident(S.SITE_ID, site.id)],
        name=site.name,
        status="active",
        address={"district": site.district} if site.district else None,
    )


def encounter(visit: Visit, person_id: str) -> Encounter:
    """The visit: ambulatory, at the site (a Location), from opening to closing."""
    return Encounter(
        identifier=[ident(S.VISIT_ID, visit.id)],
        status="finished" if visit.closed_at else "in-progress",
        class_fhir=Coding(system=S.ACT_CODE, code="AMB", display="ambulatory"),
        type=[CodeableConcept(text="Community health screening")],
        subject=ref(patient_url(person_id)),
        period=Period(start=visit.opened_at, end=visit.closed_at),
        location=[EncounterLocation(location=ref(site_url(visit.site_id)))],
    )


def _quantity(name: str, value: float) -> Quantity:
    unit = SPECS[name].unit
    return Quantity(value=value, unit=unit, system=S.UCUM, code=unit)


def _observation(
    exam: Exam, code: str, display: str, category: str, profile: str | None, **value: object
) -> Observation:
    assert exam.person_id is not None, "an exam without a stored person is never mapped"
    return Observation(
        identifier=[ident(S.OBSERVATION_ID, observation_key(exam, code))],
        status="final",
        meta=Meta(profile=[profile]) if profile else None,
        category=[
            concept(S.OBSERVATION_CATEGORY, category, "Vital Signs" if category == "vital-signs" else "Laboratory")
        ],
        code=concept(S.LOINC, code, display, display),
        subject=ref(patient_url(exam.person_id)),
        encounter=ref(visit_url(exam.visit_id)),
        effectiveDateTime=exam.recorded_at,
        **value,
    )


def observations(exam: Exam) -> list[Observation]:
    """One Observation per value of the exam: the blood-pressure panel (systolic and diastolic components),
    heart rate, height, weight, BMI (derived from the two), glucose, hemoglobin, ABO/Rh blood group."""
    out: list[Observation] = []
    if exam.systolic_bp is not None and exam.diastolic_bp is not None:
        parts = [
            ObservationComponent(
                code=concept(S.LOINC, SPECS[n].loinc, SPECS[n].display, SPECS[n].display),
                valueQuantity=_quantity(n, getattr(exam, n)),
            )
            for n in ("systolic_bp", "diastolic_bp")
        ]
        out.append(_observation(exam, S.BP_PANEL[0], S.BP_PANEL[1], "vital-signs", S.PROFILES["bp"], component=parts))
    for name in VITALS + LABS:
        value = getattr(exam, name)
        if value is None:
            continue
        spec = SPECS[name]
        vital = name in VITALS
        extra: dict[str, object] = {}
        if name == "bmi":
            extra["derivedFrom"] = [ref(observation_url(exam, SPECS[n].loinc)) for n in ("height_cm", "weight_kg")]
        out.append(
            _observation(
                exam,
                spec.loinc,
                spec.display,
                "vital-signs" if vital else "laboratory",
                S.PROFILES[name] if vital else None,
                valueQuantity=_quantity(name, value),
                **extra,
            )
        )
    if exam.blood_type is not None:
        bt = exam.blood_type.value
        out.append(
            _observation(
                exam,
                BLOOD_TYPE_LOINC,
                "ABO and Rh group [Type] in Blood",
                "laboratory",
                None,
                valueCodeableConcept=concept(S.SNOMED, S.BLOOD_GROUP_SNOMED[bt], text=bt),
            )
        )
    return out


def consent(person_id: str, decisions: Iterable[ConsentRecord]) -> Consent | None:
    """The person's consent state: one provision per purpose (its latest decision, permit = granted, deny =
    withdrawn or refused, from its date), the notices shown as policies, the guardian when there is one."""
    latest: dict[str, ConsentRecord] = {}
    for rec in sorted(decisions, key=lambda r: r.at):
        latest[rec.purpose.value] = rec
    if not latest:
        return None
    recs = sorted(latest.values(), key=lambda r: r.purpose.value)
    notices = sorted({(r.notice_version, r.language) for r in recs})
    performers = [ref(patient_url(person_id))]
    guardians = {
        (r.grantor.guardian_name, r.grantor.guardian_relation) for r in recs if r.granted and r.grantor.has_guardian
    }
    performers += [
        Reference(type="RelatedPerson", display=f"{name} ({relation}), guardian")
        for name, relation in sorted(guardians)
    ]
    by_guardian = any(r.grantor.kind is GrantorKind.GUARDIAN for r in recs if r.granted)
    provisions = [
        ConsentProvision(
            type="permit" if r.granted else "deny",
            period=Period(start=r.at),
            purpose=[Coding(system=S.PURPOSE, code=r.purpose.value)],
        )
        for r in recs
    ]
    return Consent(
        identifier=[ident(S.CONSENT_ID, person_id)],
        status="active" if any(r.granted for r in recs) else "inactive",
        scope=concept(S.CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
        category=[concept(S.LOINC, "59284-0", "Patient Consent")],
        patient=ref(patient_url(person_id)),
        dateTime=max(r.at for r in recs),
        performer=performers[1:] if by_guardian else performers,
        policy=[ConsentPolicy(uri=S.notice_uri(v, lang)) for v, lang in notices],
        policyRule=concept(S.ACT_CODE, "OPTIN", "opt-in"),
        provision=ConsentProvision(type="deny", provision=provisions),
    )


@dataclass(frozen=True)
class LogRef:
    """Where an access-log entry sits: its leaf index and the signed tree head its inclusion proof is against."""

    index: int
    tree_size: int
    root_hash_b64: str
    key_id_hex: str
    timestamp_ms: int


_OUTCOME = {"granted": "0", "denied": "4", "refused": "4"}
_VERB = {"read": "R", "export": "R", "record": "C", "enroll": "C", "erase": "D", "revoke": "U", "set": "U", "ehr": "E"}


def audit_event(event: AccessEvent, log: LogRef) -> AuditEvent:
    """One entry of the person's access log: who (role, user), what (action, outcome, reason), why (purpose),
    with the log index and the tree head it is proven against, so the entry can be checked in the log."""
    verb = next((code for word, code in _VERB.items() if event.action.startswith(word)), "E")
    who = (
        ref(patient_url(event.actor_id))
        if event.role == "patient"
        else Reference(identifier=ident(S.USER_ID, event.actor_id))
    )
    details = [
        AuditEventEntityDetail(type=t, valueString=str(v))
        for t, v in (
            ("leaf_index", log.index),
            ("tree_size", log.tree_size),
            ("key_id", log.key_id_hex),
            ("tree_head_timestamp_ms", log.timestamp_ms),
        )
    ]
    details.insert(2, AuditEventEntityDetail(type="root_hash", valueBase64Binary=log.root_hash_b64))
    entities = [
        AuditEventEntity(
            what=Reference(identifier=ident(S.ACCESS_LOG, str(log.index))),
            description="carekey transparency-log entry",
            detail=details,
        )
    ]
    if event.person_id:
        entities.insert(
            0,
            AuditEventEntity(
                what=ref(patient_url(event.person_id)),
                type=Coding(system=S.AUDIT_ENTITY_TYPE, code="1", display="Person"),
            ),
        )
    return AuditEvent(
        type=Coding(system=S.AUDIT_EVENT_TYPE, code="rest", display="Restful Operation"),
        subtype=[Coding(system=S.ACTION, code=event.action)],
        action=verb,
        recorded=event.at,
        outcome=_OUTCOME[event.outcome],
        outcomeDesc=event.reason,
        purposeOfEvent=[concept(S.PURPOSE, event.purpose)],
        agent=[AuditEventAgent(type=concept(S.ROLE, event.role), who=who, requestor=True)],
        source=AuditEventSource(site=event.site_id, observer=Reference(display="carekey transparency log")),
        entity=entities,
    )
