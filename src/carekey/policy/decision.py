"""The one policy decision point: ``decide(request) -> Decision``.

Plain Python rules rather than pycasbin: there are few rules, consent is data that must be checked
at decision time (a revoked consent denies on the very next call), and the visit/site conditions
are predicates over the request, which a casbin model would push into custom matcher functions.
As code plus the table below the whole policy is readable and auditable in one screen, and the
authorization-matrix tests exercise it directly.

Rules (every condition must hold; the first failing one is the reason of the denial):

| action                 | roles                | purpose              | visit                    | consent          |
|------------------------|----------------------|----------------------|--------------------------|------------------|
| lookup                 | registrar            | care_record          | open, at an actor's site | -                |
| identify_biometric     | registrar            | biometric_ident.     | open, at an actor's site | AGREED (present) |
| enroll                 | registrar            | care_record          | open, own site, person's | care_record      |
| enroll_biometric       | registrar            | biometric_ident.     | open, own site, person's | biometric_ident. |
| record_consent         | registrar            | care_record          | open, own site, person's | -                |
| read_person            | registrar, clinician | care_record          | open, own site, person's | care_record      |
| record_exam/read_exams | clinician            | care_record          | open, own site, person's | care_record      |
| set_pin                | registrar            | care_record          | open, own site, BOUND    | care_record      |
| erase                  | registrar            | care_record          | open, own site, BOUND    | -                |
| statistics             | program_manager      | aggregate_statistics | -                        | (per person, DP) |
| verify_log             | auditor              | audit                | -                        | -                |
| administer, retention  | admin                | administration       | -                        | -                |
| renew_biometric        | admin                | biometric_image_ret. | -                        | both biometric   |
| patient_* (read, export, revoke, erase) | the person (card + PIN) | patient_access | - | own data only  |

"person's" means the visit is bound to the person concerned (or not yet bound to anyone, for the
first action that binds it). "BOUND" means the visit is already bound to that very person (the registrar
confirmed who is present by reading or enrolling them in this visit): a credential change or an erasure can
never be aimed at an arbitrary person id from an empty visit. "AGREED (present)": nobody is known before a
biometric search, so no stored consent can be checked; the person present must have agreed to this one search
after hearing the notice, and the caller must say so (``person_agreed``) or the search is denied and logged.
Every action on a person also requires the person to be enrolled in the program of the visit's site
(``same_program``). Admin and auditor never read records; a program manager never sees a row. The one
exception is narrow and consented: ``renew_biometric``
lets the admin's renewal job (``carekey keys renew-biometric``) decrypt the enrollment images a person asked
to keep, in memory, to re-extract their templates under a new key version; it returns nothing to the admin,
needs purpose ``biometric_image_retention`` (``administration`` is refused) and both biometric consents
(``biometric_identification`` and ``biometric_image_retention``). Patient self-service (purpose patient_access)
is decided in ``patient_access`` below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from carekey.domain.program import Role
from carekey.domain.purposes import Purpose


class Action(StrEnum):
    LOOKUP = "lookup"
    IDENTIFY_BIOMETRIC = "identify_biometric"
    ENROLL = "enroll"
    ENROLL_BIOMETRIC = "enroll_biometric"
    RECORD_CONSENT = "record_consent"
    SET_PIN = "set_pin"  # the person's patient-portal credential
    READ_PERSON = "read_person"
    RECORD_EXAM = "record_exam"
    READ_EXAMS = "read_exams"
    ERASE = "erase"
    STATISTICS = "statistics"
    VERIFY_LOG = "verify_log"
    ADMINISTER = "administer"
    RETENTION_DELETE = "retention_delete"  # the retention job deleting a record past its period
    RENEW_BIOMETRIC = "renew_biometric"  # re-extracting templates from kept images under a new key version
    PATIENT_READ = "patient_read"  # the person reading their own data (record, exams, consents, accesses)
    PATIENT_EXPORT = "patient_export"  # ... exporting it as JSON
    PATIENT_REVOKE = "patient_revoke"  # ... revoking a consent
    PATIENT_ERASE = "patient_erase"  # ... asking for erasure
    EHR_PUSH = "ehr_push"  # sending one closed visit (FHIR Bundle) to the site's EMR, with ehr_sharing consent


PATIENT_ACTIONS = frozenset({Action.PATIENT_READ, Action.PATIENT_EXPORT, Action.PATIENT_REVOKE, Action.PATIENT_ERASE})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    purpose: Purpose
    needs_visit: bool
    needs_person_visit: bool  # the visit must serve this person (or be not yet bound)
    consents: tuple[Purpose, ...]  # every one must be granted by the person
    needs_bound_visit: bool = False  # the visit must already be bound to this very person
    needs_agreement: bool = False  # the person present agreed to this very action (biometric search)


def _r(roles: set[Role], purpose: Purpose, visit: bool, person_visit: bool,
       consent: Purpose | tuple[Purpose, ...] | None, bound: bool = False, agreement: bool = False) -> Rule:
    consents = () if consent is None else consent if isinstance(consent, tuple) else (consent,)
    return Rule(frozenset(roles), purpose, visit, person_visit, consents, bound, agreement)


R, C = Role.REGISTRAR, Role.CLINICIAN
CARE, BIO, IMAGES = Purpose.CARE_RECORD, Purpose.BIOMETRIC_IDENTIFICATION, Purpose.BIOMETRIC_IMAGE_RETENTION

RULES: dict[Action, Rule] = {
    Action.LOOKUP: _r({R}, CARE, True, False, None),
    Action.IDENTIFY_BIOMETRIC: _r({R}, BIO, True, False, None, agreement=True),
    Action.ENROLL: _r({R}, CARE, True, True, CARE),
    Action.ENROLL_BIOMETRIC: _r({R}, BIO, True, True, BIO),
    Action.RECORD_CONSENT: _r({R}, CARE, True, True, None),
    Action.READ_PERSON: _r({R, C}, CARE, True, True, CARE),
    Action.RECORD_EXAM: _r({C}, CARE, True, True, CARE),
    Action.READ_EXAMS: _r({C}, CARE, True, True, CARE),
    Action.SET_PIN: _r({R}, CARE, True, True, CARE, bound=True),
    Action.ERASE: _r({R}, CARE, True, True, None, bound=True),
    Action.STATISTICS: _r({Role.PROGRAM_MANAGER}, Purpose.AGGREGATE_STATISTICS, False, False, None),
    Action.VERIFY_LOG: _r({Role.AUDITOR}, Purpose.AUDIT, False, False, None),
    Action.ADMINISTER: _r({Role.ADMIN}, Purpose.ADMINISTRATION, False, False, None),
    Action.RETENTION_DELETE: _r({Role.ADMIN}, Purpose.ADMINISTRATION, False, False, None),
    Action.RENEW_BIOMETRIC: _r({Role.ADMIN}, IMAGES, False, False, (BIO, IMAGES)),
    Action.EHR_PUSH: _r({R, C, Role.ADMIN}, Purpose.EHR_SHARING, False, False, (CARE, Purpose.EHR_SHARING)),
}


@dataclass(frozen=True)
class VisitFacts:
    site_id: str
    is_open: bool
    person_id: str | None


@dataclass(frozen=True)
class Request:
    actor_id: str
    role: Role
    actor_site_ids: frozenset[str]
    action: Action
    purpose: Purpose
    site_id: str | None = None
    visit: VisitFacts | None = None
    person_id: str | None = None
    consents: frozenset[Purpose] = field(default_factory=frozenset)  # current grants of the person
    same_program: bool = True  # False when the person is enrolled in another program than the visit's site
    person_agreed: bool = False  # the caller states that the person present agreed to this very action


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    missing_consent: Purpose | None = None  # set when the only obstacle is the person's consent


def _deny(reason: str, missing: Purpose | None = None) -> Decision:
    return Decision(False, reason, missing)


def decide(req: Request) -> Decision:
    """Allow or deny one access; pure, total, and the only place where access is decided."""
    if req.action in PATIENT_ACTIONS:
        return patient_access(req)
    rule = RULES.get(req.action)
    if rule is None:
        return _deny(f"no rule allows {req.action.value}")
    if req.role not in rule.roles:
        return _deny(f"role {req.role.value} may not {req.action.value}")
    if req.purpose is not rule.purpose:
        return _deny(f"{req.action.value} serves purpose {rule.purpose.value}, not {req.purpose.value}")
    if rule.needs_visit:
        v = req.visit
        if v is None:
            return _deny(f"{req.action.value} needs an open visit")
        if not v.is_open:
            return _deny("the visit is closed")
        if v.site_id not in req.actor_site_ids or req.site_id != v.site_id:
            return _deny("the visit is not at one of the actor's sites")
        if rule.needs_person_visit:
            if req.person_id is None:
                return _deny(f"{req.action.value} needs a person")
            if v.person_id not in (None, req.person_id):
                return _deny("the visit serves another person")
            if not req.same_program:
                return _deny("the person is enrolled in another screening program")
            if rule.needs_bound_visit and v.person_id != req.person_id:
                return _deny(f"{req.action.value} needs the person confirmed in this visit first (open their record)")
    if rule.needs_agreement and not req.person_agreed:
        return _deny(f"{req.action.value} needs the agreement of the person present: read them the notice first")
    if rule.consents and req.person_id is None:
        return _deny(f"{req.action.value} needs a person")
    for needed in rule.consents:
        if needed not in req.consents:
            return _deny(f"the person has not granted (or has revoked) consent for {needed.value}", needed)
    return Decision(True, f"{req.role.value} may {req.action.value} for {rule.purpose.value}")


def patient_access(req: Request) -> Decision:
    """A person, authenticated by card and PIN, reads/exports/revokes their own data only."""
    if req.role is not Role.PATIENT:
        return _deny("patient self-service is for the person, authenticated by card and PIN")
    if req.purpose is not Purpose.PATIENT_ACCESS:
        return _deny("patient self-service serves purpose patient_access only")
    if req.person_id is None or req.actor_id != req.person_id:
        return _deny("a person may access only their own data")
    return Decision(True, "the person accesses their own data")
