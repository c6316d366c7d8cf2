"""The one policy decision point: ``decide(request) -> Decision``.

Plain Python rules rather than pycasbin: there are few rules, consent is data that must be checked
at decision time (a revoked consent denies on the very next call), and the visit/site conditions
are predicates over the request, which a casbin model would push into custom matcher functions.
As code plus the table below the whole policy is readable and auditable in one screen, and the
authorization-matrix tests exercise it directly.

Rules (every condition must hold; the first failing one is the reason of the denial):

| action                 | roles                | purpose              | visit                    | consent / proof  |
|------------------------|----------------------|----------------------|--------------------------|------------------|
| lookup                 | registrar            | care_record          | open, own site, UNBOUND  | -                |
| identify_biometric     | registrar            | biometric_ident.     | open, at an actor's site | AGREED (present) |
| enroll                 | registrar            | care_record          | open, own site, UNBOUND  | care_record      |
| enroll_biometric       | registrar            | biometric_ident.     | open, own site, person's | biometric_ident. |
| enroll_offline_capture | registrar            | biometric_ident.     | - (node's site: OWN SITE)| biometric_ident. |
| record_consent         | registrar            | care_record          | open, own site, person's | re-grant PRESENT |
| read_person            | registrar, clinician | care_record          | open, own site, person's | care_record      |
| edit_person            | registrar            | care_record          | open, own site, person's | care_record      |
| record_exam/read_exams | clinician            | care_record          | open, own site, person's | care_record      |
| record/read_referral(s)| clinician            | care_record          | open, own site, person's | care_record      |
| close_referral         | clinician            | care_record          | - (the referral's site: OWN SITE) | -       |
| followup_list          | clinician            | care_record          | - (the listed site: OWN SITE)     | -       |
| set_pin                | registrar            | care_record          | open, own site, BOUND    | care_r., PRESENT |
| erase                  | registrar            | care_record          | open, own site, BOUND    | PRESENT          |
| handle_visit           | registrar, clinician | care_record          | (a named site: own site) | -                |
| screen_without_record  | registrar, clinician | care_record          | open, own site           | -                |
| statistics             | program_manager      | aggregate_statistics | ONE PROGRAM              | (per person, DP) |
| verify_log             | auditor              | audit                | -                        | -                |
| administer, retention  | admin                | administration       | -                        | -                |
| approve_account        | admin, program_mgr   | administration       | -                        | SECOND PERSON    |
| confirm_node           | admin                | administration       | -                        | SECOND ADMIN     |
| sync_node              | admin, registrar     | administration       | -                        | -                |
| renew_biometric        | admin                | biometric_image_ret. | -                        | both biometric   |
| ehr_push               | registrar, clinician, admin | ehr_sharing   | -                        | care_r., ehr_sh. |
| patient_* (read, export, revoke, erase) | the person (card + PIN) | patient_access | - | own data only  |

``handle_visit`` (open a visit at a site, see or close one, the site queue) and ``screen_without_record`` (an
exam shown and printed, never stored, no person named) touch no personal data: the services ask ``decide`` and
do not log them. "ONE PROGRAM": program-wide views (statistics, releases, exports) are for the one program the
actor's sites belong to; an actor with sites in no program or in several is refused, and so is naming another
program.

"OWN SITE" (no visit): the site the request names (the referral's, the list's) is one of the actor's sites. A
follow-up list shows codes only (person and visit codes, no name, reason or place); the record opens only in a
visit where the person is present.

"OFFLINE CAPTURE" (``enroll_offline_capture``, issue 19): a capture made on a site node (decided there as
``enroll_biometric`` in an open visit, with the person's consent) is enrolled centrally at the next sync on behalf of
the registrar who made it: the registrar's account works at the node's site (OWN SITE, the site of the node that
sent it) and the person still grants ``biometric_identification`` now (a withdrawal made anywhere meanwhile wins).

"SECOND ADMIN" (``confirm_node``, issue 19): a site node approved by one admin is confirmed by another admin
(two-person rule for nodes, ``carekey.policy.nodes``); the approver cannot confirm.

"NODE LEASE": on a site node that has not completed a sync for ``CAREKEY_NODE_LEASE_DAYS``
(``lease_expired_since``), every person-level read (``lookup``, ``identify_biometric``, ``read_person``,
``read_exams``, ``read_referrals``, ``followup_list``) is refused until it syncs; enrolling new people and recording
exams for the people enrolled in the visit keep working (care is not blocked; docs/sync.md, lease).

Every staff action first needs an APPROVED account: a new account, and one whose password was reset or whose
role or sites changed by an admin, reaches no data until a second person (another admin, or a program
manager of its sites) approves it: "SECOND PERSON", nobody approves an account they created or changed,
or their own.

"person's" means the visit is bound to the person concerned, or not yet bound to anyone and the person was
OFFERED by this very visit (a candidate of its card/name lookup or biometric identification; a person
enrolled in the visit binds it at once): a visit never reaches a person id learned elsewhere, and once
one person-level action binds it, it serves that person only ("UNBOUND": a lookup or an enrollment only
in a visit that serves nobody yet). "BOUND" means the visit is already bound to that very person (the
registrar confirmed who is present by reading or enrolling them in this visit): a credential change or an
erasure can never be aimed at an arbitrary person id from an empty visit. "PRESENT" means the person
proved they are there, in this visit: their PIN typed on the device, a biometric match of their own
enrolled template in this visit's identification, their enrollment in this very visit, or, when they
have neither, a second staff member of the visit's site approving with their own credentials (two-person
rule). It is needed for the powerful actions: setting or resetting the portal PIN, staff-initiated
erasure, and granting again a consent the person refused or withdrew. "AGREED (present)": nobody is known before a
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
from carekey.errors import msg


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
    APPROVE_ACCOUNT = "approve_account"  # the second person's approval of a new or changed staff account
    PATIENT_READ = "patient_read"  # the person reading their own data (record, exams, consents, accesses)
    PATIENT_EXPORT = "patient_export"  # ... exporting it as JSON
    PATIENT_REVOKE = "patient_revoke"  # ... revoking a consent
    PATIENT_GRANT = "patient_grant"  # ... saying yes again to a purpose they refused or withdrew
    PATIENT_ERASE = "patient_erase"  # ... asking for erasure
    EHR_PUSH = "ehr_push"  # sending one closed visit (FHIR Bundle) to the site's EMR, with ehr_sharing consent
    HANDLE_VISIT = "handle_visit"  # open, see or close a visit, list the site queue (no personal data; not logged)
    SCREEN = "screen_without_record"  # an exam shown without being stored, no person named (not logged)
    RECORD_REFERRAL = "record_referral"  # the clinician refers the person present (where, why, urgency)
    READ_REFERRALS = "read_referrals"  # ... reads the person's referrals in the visit
    CLOSE_REFERRAL = "close_referral"  # a clinician of the referral's site closes it (seen, declined, not needed)
    FOLLOWUP_LIST = "followup_list"  # a clinician lists the open referrals of their site, as codes
    CONFIRM_NODE = "confirm_node"  # a second admin confirms a site node another admin approved (issue 19)
    ENROLL_OFFLINE_CAPTURE = "enroll_offline_capture"  # central enrollment of a capture made on a node (issue 19)
    EDIT_PERSON = "edit_person"  # correct the person's demographic fields (merged per field at sync, issue 19)
    SYNC_NODE = "sync_node"  # the node's "Sync now" button: push and pull with the central registry (no data shown)


PATIENT_ACTIONS = frozenset(
    {Action.PATIENT_READ, Action.PATIENT_EXPORT, Action.PATIENT_REVOKE, Action.PATIENT_GRANT, Action.PATIENT_ERASE}
)


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    purpose: Purpose
    needs_visit: bool
    needs_person_visit: bool  # the visit must serve this person (or be not yet bound)
    consents: tuple[Purpose, ...]  # every one must be granted by the person
    needs_bound_visit: bool = False  # the visit must already be bound to this very person
    needs_agreement: bool = False  # the person present agreed to this very action (biometric search)
    needs_presence: bool = False  # the person proved, in this visit, that they are there (see PRESENCE)
    own_site: bool = False  # a site named in the request must be one of the actor's
    one_program: bool = False  # the actor's sites belong to exactly one program, the one asked for (if named)
    needs_own_site: bool = False  # the request's site (no visit) is one of the actor's sites


def _r(
    roles: set[Role],
    purpose: Purpose,
    visit: bool,
    person_visit: bool,
    consent: Purpose | tuple[Purpose, ...] | None,
    bound: bool = False,
    agreement: bool = False,
    presence: bool = False,
    own_site: bool = False,
    one_program: bool = False,
    needs_own_site: bool = False,
) -> Rule:
    consents = () if consent is None else consent if isinstance(consent, tuple) else (consent,)
    return Rule(
        frozenset(roles),
        purpose,
        visit,
        person_visit,
        consents,
        bound,
        agreement,
        presence,
        own_site,
        one_program,
        needs_own_site,
    )


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
    Action.SET_PIN: _r({R}, CARE, True, True, CARE, bound=True, presence=True),
    Action.ERASE: _r({R}, CARE, True, True, None, bound=True, presence=True),
    Action.STATISTICS: _r({Role.PROGRAM_MANAGER}, Purpose.AGGREGATE_STATISTICS, False, False, None, one_program=True),
    Action.VERIFY_LOG: _r({Role.AUDITOR}, Purpose.AUDIT, False, False, None),
    Action.ADMINISTER: _r({Role.ADMIN}, Purpose.ADMINISTRATION, False, False, None),
    Action.RETENTION_DELETE: _r({Role.ADMIN}, Purpose.ADMINISTRATION, False, False, None),
    Action.RENEW_BIOMETRIC: _r({Role.ADMIN}, IMAGES, False, False, (BIO, IMAGES)),
    Action.APPROVE_ACCOUNT: _r({Role.ADMIN, Role.PROGRAM_MANAGER}, Purpose.ADMINISTRATION, False, False, None),
    Action.EHR_PUSH: _r({R, C, Role.ADMIN}, Purpose.EHR_SHARING, False, False, (CARE, Purpose.EHR_SHARING)),
    Action.HANDLE_VISIT: _r({R, C}, CARE, False, False, None, own_site=True),
    Action.SCREEN: _r({R, C}, CARE, True, False, None),
    Action.RECORD_REFERRAL: _r({C}, CARE, True, True, CARE),
    Action.READ_REFERRALS: _r({C}, CARE, True, True, CARE),
    Action.CLOSE_REFERRAL: _r({C}, CARE, False, False, None, needs_own_site=True),
    Action.FOLLOWUP_LIST: _r({C}, CARE, False, False, None, needs_own_site=True),
    Action.CONFIRM_NODE: _r({Role.ADMIN}, Purpose.ADMINISTRATION, False, False, None),
    Action.ENROLL_OFFLINE_CAPTURE: _r({R}, BIO, False, False, BIO, needs_own_site=True),
    Action.SYNC_NODE: _r({Role.ADMIN, R}, Purpose.ADMINISTRATION, False, False, None),
    Action.EDIT_PERSON: _r({R}, CARE, True, True, CARE),
}

#: refused on a site node past its lease (``Request.lease_expired_since``)
LEASED_READS = frozenset(
    {
        Action.LOOKUP,
        Action.IDENTIFY_BIOMETRIC,
        Action.READ_PERSON,
        Action.READ_EXAMS,
        Action.READ_REFERRALS,
        Action.FOLLOWUP_LIST,
    }
)


def roles_for(action: Action) -> frozenset[Role]:
    """The roles the table lets do ``action``: a screen's first gate (``decide`` has the last word)."""
    return RULES[action].roles


class Presence(StrEnum):
    """How the person proved, in this visit, that they are there (for the powerful actions)."""

    PIN = "pin"  # typed their portal PIN on the device
    BIOMETRIC = "biometric"  # this visit's identification matched their own enrolled template
    ENROLLED = "enrolled"  # they were enrolled in this very visit
    SECOND_STAFF = "second_staff"  # a second staff member of the site approved (two-person rule)


@dataclass(frozen=True)
class ApproverFacts:
    """The second staff member who vouches for the person's presence (two-person rule)."""

    user_id: str
    username: str
    role: Role
    site_ids: frozenset[str]
    approved: bool
    active: bool


@dataclass(frozen=True)
class AccountFacts:
    """The staff account an approval is about."""

    user_id: str
    changed_by: str | None  # who created it, or last reset its password / changed its role or sites
    site_ids: frozenset[str]


@dataclass(frozen=True)
class VisitFacts:
    site_id: str
    is_open: bool
    person_id: str | None
    offered: frozenset[str] = frozenset()  # people this visit's own lookups/identifications offered or enrolled
    opened_by: str | None = None  # the staff member who opened it (the only one who may bind it to a person)
    expired: bool = False  # open for longer than one screening day (domain.visit.MAX_OPEN)


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
    actor_approved: bool = False  # a second person approved the actor's account (as it is now)
    presence: Presence | None = None  # the proof, in this visit, that the person is there
    approver: ApproverFacts | None = None  # with presence SECOND_STAFF
    regrant: bool = False  # record_consent grants a purpose the person refused or withdrew
    person_has_pin: bool = False  # the person has a portal PIN (they can prove presence by typing it)
    person_has_biometrics: bool = False  # the person has enrolled templates (a match can prove presence)
    account: AccountFacts | None = None  # approve_account: the account to approve
    actor_program_sites: frozenset[str] | None = None  # approve_account by a manager: the sites of their program
    actor_programs: frozenset[str] = frozenset()  # one_program rules: the programs of the actor's sites
    program_id: str | None = None  # one_program rules: the program asked for (None: the actor's own)
    lease_expired_since: str | None = None  # a site node past its lease: the date of its last sync (else None)
    node_approved_by: str | None = None  # confirm_node: the admin who approved the node (None: not yet approved)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    missing_consent: Purpose | None = None  # set when the only obstacle is the person's consent
    missing_presence: bool = False  # set when the obstacle is the person's proof of presence


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
    if not req.actor_approved:
        return _deny("this account is awaiting approval by a second admin or the program manager")
    if req.lease_expired_since is not None and req.action in LEASED_READS:
        return _deny(
            msg(
                "this node has not synced since %(since)s (past its lease): sync first",
                since=req.lease_expired_since,
            )
        )
    if req.action is Action.CONFIRM_NODE:
        if req.node_approved_by is None:
            return _deny("the node must first be approved by an admin (carekey node approve)")
        if req.node_approved_by == req.actor_id:
            return _deny("the node must be confirmed by another admin than the one who approved it")
    if req.purpose is not rule.purpose:
        return _deny(f"{req.action.value} serves purpose {rule.purpose.value}, not {req.purpose.value}")
    if rule.own_site and req.site_id is not None and req.site_id not in req.actor_site_ids:
        return _deny(f"you do not work at site {req.site_id!r}")
    if rule.one_program:
        denied = _one_program(req)
        if denied is not None:
            return denied
    if rule.needs_visit:
        v = req.visit
        if v is None:
            return _deny(f"{req.action.value} needs an open visit")
        if not v.is_open:
            return _deny("the visit is closed")
        if v.expired:
            return _deny("the visit was opened more than 12 hours ago: close it and open a new one")
        if v.site_id not in req.actor_site_ids or req.site_id != v.site_id:
            return _deny("the visit is not at one of the actor's sites")
        if req.action is Action.LOOKUP and v.person_id is not None:
            return _deny("this visit already serves a person: open a new visit for someone else")
        if rule.needs_person_visit:
            if req.person_id is None:
                return _deny(f"{req.action.value} needs a person")
            if v.person_id not in (None, req.person_id):
                return _deny("the visit serves another person")
            if v.person_id is None and req.action is not Action.ENROLL and req.person_id not in v.offered:
                return _deny("this visit did not find this person: look them up (card, name or biometrics) in it first")
            if v.person_id is None and v.opened_by not in (None, req.actor_id):
                return _deny(
                    "only the staff member who opened this visit can confirm whom it serves: open your own visit"
                )
            if not req.same_program:
                return _deny("the person is enrolled in another screening program")
            if rule.needs_bound_visit and v.person_id != req.person_id:
                return _deny(f"{req.action.value} needs the person confirmed in this visit first (open their record)")
    if rule.needs_own_site and (req.site_id is None or req.site_id not in req.actor_site_ids):
        return _deny(f"{req.action.value} is only for staff of that site")
    if rule.needs_presence or (req.action is Action.RECORD_CONSENT and req.regrant):
        denied = _presence(req)
        if denied is not None:
            return denied
    if req.action is Action.APPROVE_ACCOUNT:
        denied = _approval(req)
        if denied is not None:
            return denied
    if rule.needs_agreement and not req.person_agreed:
        return _deny(f"{req.action.value} needs the agreement of the person present: read them the notice first")
    if rule.consents and req.person_id is None:
        return _deny(f"{req.action.value} needs a person")
    for needed in rule.consents:
        if needed not in req.consents:
            return _deny(f"the person has not granted (or has revoked) consent for {needed.value}", needed)
    return Decision(True, f"{req.role.value} may {req.action.value} for {rule.purpose.value}{_proof(req)}")


def _presence(req: Request) -> Decision | None:
    if req.presence is None:
        reason = (
            msg(
                "to grant again a consent the person refused or withdrew the person must prove they are here: "
                "their PIN, a fingerprint or iris match in this visit, or a second staff member's approval"
            )
            if req.action is Action.RECORD_CONSENT
            else msg(
                "to %(action)s the person must prove they are here: their PIN, a fingerprint or iris match in "
                "this visit, or a second staff member's approval",
                action=req.action.value,
            )
        )
        return Decision(False, reason, missing_presence=True)
    if req.presence is Presence.SECOND_STAFF:
        a, v = req.approver, req.visit
        if a is None or v is None:
            return _deny("a second staff member must approve")
        if a.user_id == req.actor_id:
            return _deny("the approver must be another staff member")
        if not (a.active and a.approved) or a.role not in (Role.REGISTRAR, Role.CLINICIAN):
            return _deny("the approver must be an active, approved registrar or clinician")
        if v.site_id not in a.site_ids:
            return _deny("the approver must work at the visit's site")
        # The two-person rule is for people who have no proof of their own: a colleague cannot stand in for a
        # person who could type their PIN or give a finger. A forgotten PIN may be reset by two staff members
        # only for a person without enrolled biometrics (with them, a match in this visit is the proof).
        if req.person_has_biometrics:
            return _deny(
                "for a person with enrolled fingerprints or irises, identify them by biometrics in this visit "
                "(a second staff member cannot vouch for them)"
            )
        if req.person_has_pin and req.action is not Action.SET_PIN:
            return _deny("for a person who has a PIN, the person types their PIN (a second staff member cannot vouch)")
    return None


def _one_program(req: Request) -> Decision | None:
    if not req.actor_programs:
        return _deny(f"this {req.role.value} account has no site, so no program: {req.action.value} is per program")
    if len(req.actor_programs) > 1:
        return _deny(
            f"this {req.role.value} account has sites in {len(req.actor_programs)} programs; "
            f"{req.action.value} needs one program (give the account the sites of one program only)"
        )
    if req.program_id is not None and req.program_id not in req.actor_programs:
        return _deny(f"{req.action.value} of program {req.program_id!r} is not for this account's program")
    return None


def _approval(req: Request) -> Decision | None:
    acct = req.account
    if acct is None:
        return _deny("approve_account needs the account")
    if acct.user_id == req.actor_id:
        return _deny("nobody approves their own account")
    if acct.changed_by == req.actor_id:
        return _deny("the account must be approved by someone other than who created or changed it")
    if req.role is Role.PROGRAM_MANAGER and (
        req.actor_program_sites is None or not acct.site_ids or not acct.site_ids <= req.actor_program_sites
    ):
        return _deny("a program manager approves only accounts working at sites of their own program")
    return None


def _proof(req: Request) -> str:
    if req.presence is None or not (RULES[req.action].needs_presence or req.regrant):
        return ""
    if req.presence is Presence.SECOND_STAFF and req.approver is not None:
        return f"; presence vouched for by {req.approver.username} (two-person rule)"
    return f"; presence proven by {req.presence.value.replace('_', ' ')}"


def patient_access(req: Request) -> Decision:
    """A person, authenticated by card and PIN, reads/exports/revokes their own data only."""
    if req.role is not Role.PATIENT:
        return _deny("patient self-service is for the person, authenticated by card and PIN")
    if req.purpose is not Purpose.PATIENT_ACCESS:
        return _deny("patient self-service serves purpose patient_access only")
    if req.person_id is None or req.actor_id != req.person_id:
        return _deny("a person may access only their own data")
    return Decision(True, "the person accesses their own data")
