"""The policy table: every action x role, plus each visit/site/consent condition."""

from dataclasses import replace

import pytest

from carekey.domain.program import Role
from carekey.domain.purposes import CONSENT_PURPOSES, Purpose
from carekey.policy.decision import (
    PATIENT_ACTIONS,
    RULES,
    AccountFacts,
    Action,
    ApproverFacts,
    Presence,
    Request,
    VisitFacts,
    decide,
)

SITE = "north"
ALL_CONSENTS = frozenset(CONSENT_PURPOSES)

# action -> roles allowed (with the rule's purpose, an open visit at own site for the person, all consents)
EXPECTED = {
    Action.LOOKUP: {Role.REGISTRAR},
    Action.IDENTIFY_BIOMETRIC: {Role.REGISTRAR},
    Action.ENROLL: {Role.REGISTRAR},
    Action.ENROLL_BIOMETRIC: {Role.REGISTRAR},
    Action.RECORD_CONSENT: {Role.REGISTRAR},
    Action.SET_PIN: {Role.REGISTRAR},
    Action.READ_PERSON: {Role.REGISTRAR, Role.CLINICIAN},
    Action.RECORD_EXAM: {Role.CLINICIAN},
    Action.READ_EXAMS: {Role.CLINICIAN},
    Action.ERASE: {Role.REGISTRAR},
    Action.STATISTICS: {Role.PROGRAM_MANAGER},
    Action.VERIFY_LOG: {Role.AUDITOR},
    Action.ADMINISTER: {Role.ADMIN},
    Action.RETENTION_DELETE: {Role.ADMIN},
    Action.RENEW_BIOMETRIC: {Role.ADMIN},
    Action.APPROVE_ACCOUNT: {Role.ADMIN, Role.PROGRAM_MANAGER},
    Action.EHR_PUSH: {Role.REGISTRAR, Role.CLINICIAN, Role.ADMIN},
    Action.HANDLE_VISIT: {Role.REGISTRAR, Role.CLINICIAN},
    Action.SCREEN: {Role.REGISTRAR, Role.CLINICIAN},
    Action.RECORD_REFERRAL: {Role.CLINICIAN},
    Action.READ_REFERRALS: {Role.CLINICIAN},
    Action.CLOSE_REFERRAL: {Role.CLINICIAN},
    Action.FOLLOWUP_LIST: {Role.CLINICIAN},
    Action.CONFIRM_NODE: {Role.ADMIN},
    Action.ENROLL_OFFLINE_CAPTURE: {Role.REGISTRAR},
    Action.SYNC_NODE: {Role.ADMIN, Role.REGISTRAR},
    Action.EDIT_PERSON: {Role.REGISTRAR},
}


def req(action, role, **kw):
    visit = VisitFacts(SITE, True, None if action is Action.LOOKUP else "CK-A")  # a lookup comes before binding
    base = dict(
        actor_id="U-1",
        role=role,
        actor_site_ids=frozenset({SITE}),
        action=action,
        purpose=RULES[action].purpose,
        site_id=SITE,
        visit=visit,
        person_id="CK-A",
        consents=ALL_CONSENTS,
        person_agreed=True,
        actor_approved=True,
        presence=Presence.PIN,
        account=AccountFacts("U-9", "U-0", frozenset({SITE})),
        actor_program_sites=frozenset({SITE}),
        actor_programs=frozenset({"demo"}),
        node_approved_by="U-0",  # confirm_node: approved by another admin
    )
    return Request(**(base | kw))


def test_table_covers_every_action():
    assert set(EXPECTED) == set(Action) - PATIENT_ACTIONS


@pytest.mark.parametrize("action", list(EXPECTED))
def test_agreement_of_the_person_present_is_needed_only_where_the_table_says(action):
    role = next(iter(EXPECTED[action]))
    d = decide(req(action, role, person_agreed=False))
    assert d.allowed != RULES[action].needs_agreement
    assert RULES[Action.IDENTIFY_BIOMETRIC].needs_agreement  # the one search that runs before anyone is known
    if not d.allowed:
        assert "agreement of the person present" in d.reason


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(action, role):
    assert decide(req(action, role)).allowed == (role in EXPECTED[action])


@pytest.mark.parametrize("action", [a for a in EXPECTED if RULES[a].needs_visit])
def test_visit_conditions(action):
    role = next(iter(EXPECTED[action]))
    assert not decide(req(action, role, visit=None)).allowed
    closed = decide(req(action, role, visit=VisitFacts(SITE, False, "CK-A")))
    assert not closed.allowed and "closed" in closed.reason
    other_site = decide(req(action, role, visit=VisitFacts("south", True, "CK-A"), site_id="south"))
    assert not other_site.allowed and "site" in other_site.reason


@pytest.mark.parametrize("action", [a for a in EXPECTED if RULES[a].needs_person_visit])
def test_visit_must_serve_the_person(action):
    role = next(iter(EXPECTED[action]))
    d = decide(req(action, role, visit=VisitFacts(SITE, True, "CK-B")))
    assert not d.allowed and "another person" in d.reason
    unbound = decide(req(action, role, visit=VisitFacts(SITE, True, None, frozenset({"CK-A"}))))
    if RULES[action].needs_bound_visit:
        assert not unbound.allowed and "confirmed in this visit" in unbound.reason
    else:
        assert unbound.allowed
    not_offered = decide(req(action, role, visit=VisitFacts(SITE, True, None, frozenset({"CK-B"}))))
    assert not_offered.allowed == (action is Action.ENROLL)  # enrollment creates its person; nothing else
    if not not_offered.allowed:
        assert "did not find this person" in not_offered.reason


@pytest.mark.parametrize("action", [Action.SET_PIN, Action.ERASE])
def test_credential_change_and_erasure_need_the_person_confirmed_in_the_visit(action):
    """An empty visit must not let a registrar set anyone's PIN (portal takeover) or erase anyone."""
    assert RULES[action].needs_bound_visit
    assert decide(req(action, Role.REGISTRAR, visit=VisitFacts(SITE, True, "CK-A"))).allowed
    for bound_to in (None, "CK-B"):
        assert not decide(req(action, Role.REGISTRAR, visit=VisitFacts(SITE, True, bound_to))).allowed


@pytest.mark.parametrize(("action", "needed"), [(a, c) for a in EXPECTED for c in RULES[a].consents])
def test_missing_or_revoked_consent_denies(action, needed):
    role = next(iter(EXPECTED[action]))
    d = decide(req(action, role, consents=ALL_CONSENTS - {needed}))
    assert not d.allowed and d.missing_consent is needed


def test_renewal_from_kept_images_needs_both_biometric_consents_and_its_own_purpose():
    """The admin's renewal job reads kept images only for people who opted in, and only under the purpose
    biometric_image_retention: under administration (the admin's usual purpose) it is refused."""
    assert set(RULES[Action.RENEW_BIOMETRIC].consents) == {
        Purpose.BIOMETRIC_IDENTIFICATION,
        Purpose.BIOMETRIC_IMAGE_RETENTION,
    }
    ok = req(Action.RENEW_BIOMETRIC, Role.ADMIN, visit=None, site_id=None)
    assert decide(ok).allowed
    assert not decide(req(Action.RENEW_BIOMETRIC, Role.ADMIN, purpose=Purpose.ADMINISTRATION)).allowed
    assert not decide(req(Action.RENEW_BIOMETRIC, Role.ADMIN, visit=None, person_id=None)).allowed
    for action in (Action.READ_PERSON, Action.READ_EXAMS):  # and the admin still reads no record
        assert not decide(req(action, Role.ADMIN)).allowed


@pytest.mark.parametrize("action", list(EXPECTED))
def test_wrong_purpose_denied(action):
    role = next(iter(EXPECTED[action]))
    for purpose in Purpose:
        if purpose is not RULES[action].purpose:
            assert not decide(req(action, role, purpose=purpose)).allowed


@pytest.mark.parametrize("action", sorted(PATIENT_ACTIONS))
def test_patient_reads_only_own_data(action):
    base = dict(role=Role.PATIENT, actor_site_ids=frozenset(), action=action, purpose=Purpose.PATIENT_ACCESS)
    assert decide(Request(actor_id="CK-A", person_id="CK-A", **base)).allowed
    assert not decide(Request(actor_id="CK-A", person_id="CK-B", **base)).allowed
    assert not decide(Request(actor_id="CK-A", person_id="CK-A", **(base | {"purpose": Purpose.CARE_RECORD}))).allowed
    for staff in set(Role) - {Role.PATIENT}:  # a staff member whose id happened to equal the person's id
        assert not decide(Request(actor_id="CK-A", person_id="CK-A", **(base | {"role": staff}))).allowed


@pytest.mark.parametrize("action", [a for a in EXPECTED if RULES[a].needs_person_visit])
def test_person_of_another_program_is_denied(action):
    role = next(iter(EXPECTED[action]))
    d = decide(req(action, role, same_program=False))
    assert not d.allowed and "another screening program" in d.reason


@pytest.mark.parametrize("action", [a for a in EXPECTED if a not in PATIENT_ACTIONS])
def test_an_account_awaiting_approval_reaches_nothing(action):
    role = next(iter(EXPECTED[action]))
    d = decide(req(action, role, actor_approved=False))
    assert not d.allowed and "awaiting approval" in d.reason


@pytest.mark.parametrize("action", [Action.SET_PIN, Action.ERASE])
def test_powerful_actions_need_proof_of_presence(action):
    assert not decide(req(action, Role.REGISTRAR, presence=None)).allowed
    for presence in (Presence.PIN, Presence.BIOMETRIC, Presence.ENROLLED):
        d = decide(req(action, Role.REGISTRAR, presence=presence))
        assert d.allowed and presence.value in d.reason


def test_a_regrant_needs_presence_but_a_first_grant_or_a_revocation_does_not():
    assert decide(req(Action.RECORD_CONSENT, Role.REGISTRAR, presence=None)).allowed
    d = decide(req(Action.RECORD_CONSENT, Role.REGISTRAR, presence=None, regrant=True))
    assert not d.allowed and "refused or withdrew" in d.reason
    assert decide(req(Action.RECORD_CONSENT, Role.REGISTRAR, presence=Presence.BIOMETRIC, regrant=True)).allowed


def _approver(**kw):
    base = dict(
        user_id="U-7",
        username="clinician-north",
        role=Role.CLINICIAN,
        site_ids=frozenset({SITE}),
        approved=True,
        active=True,
    )
    return ApproverFacts(**(base | kw))


def test_two_person_rule():
    def ok(approver):
        return decide(req(Action.SET_PIN, Role.REGISTRAR, presence=Presence.SECOND_STAFF, approver=approver)).allowed

    good = decide(req(Action.SET_PIN, Role.REGISTRAR, presence=Presence.SECOND_STAFF, approver=_approver()))
    assert good.allowed and "clinician-north" in good.reason
    assert not ok(None)
    assert not ok(_approver(user_id="U-1"))  # the actor themself
    assert not ok(_approver(site_ids=frozenset({"south"})))  # not at the visit's site
    assert not ok(_approver(approved=False))
    assert not ok(_approver(active=False))
    assert not ok(_approver(role=Role.ADMIN))


def test_a_colleague_vouches_only_for_a_person_without_a_proof_of_their_own():
    """Red-team F11: the two-person rule is for people with neither PIN nor biometrics; a forgotten PIN of a person
    without biometrics may be reset by two staff members, nothing else of a PIN holder."""

    def ok(action, **facts):
        return decide(
            req(action, Role.REGISTRAR, presence=Presence.SECOND_STAFF, approver=_approver(), regrant=True, **facts)
        ).allowed

    for action in (Action.SET_PIN, Action.ERASE, Action.RECORD_CONSENT):
        assert ok(action)
        assert not ok(action, person_has_biometrics=True)
    assert ok(Action.SET_PIN, person_has_pin=True)
    assert not ok(Action.ERASE, person_has_pin=True)
    assert not ok(Action.RECORD_CONSENT, person_has_pin=True)
    for presence in (Presence.PIN, Presence.BIOMETRIC):  # the person's own proof always serves
        assert decide(req(Action.ERASE, Role.REGISTRAR, presence=presence, person_has_pin=True)).allowed


def test_only_the_opener_binds_a_visit_and_an_old_visit_serves_nobody():
    offered = VisitFacts(SITE, True, None, frozenset({"CK-A"}), opened_by="U-1")
    assert decide(req(Action.READ_PERSON, Role.REGISTRAR, visit=offered)).allowed
    d = decide(req(Action.READ_PERSON, Role.REGISTRAR, actor_id="U-2", visit=offered))
    assert not d.allowed and "opened this visit" in d.reason
    bound = VisitFacts(SITE, True, "CK-A", frozenset({"CK-A"}), opened_by="U-1")
    assert decide(req(Action.READ_PERSON, Role.REGISTRAR, actor_id="U-2", visit=bound)).allowed  # the handover
    old = VisitFacts(SITE, True, "CK-A", frozenset({"CK-A"}), opened_by="U-1", expired=True)
    d = decide(req(Action.READ_PERSON, Role.REGISTRAR, visit=old))
    assert not d.allowed and "12 hours" in d.reason


def test_nobody_approves_their_own_or_their_own_change():
    assert decide(req(Action.APPROVE_ACCOUNT, Role.ADMIN, visit=None)).allowed
    assert not decide(req(Action.APPROVE_ACCOUNT, Role.ADMIN, account=AccountFacts("U-1", "U-0", frozenset()))).allowed
    assert not decide(req(Action.APPROVE_ACCOUNT, Role.ADMIN, account=AccountFacts("U-9", "U-1", frozenset()))).allowed
    assert not decide(
        req(Action.APPROVE_ACCOUNT, Role.PROGRAM_MANAGER, account=AccountFacts("U-9", "U-0", frozenset({"elsewhere"})))
    ).allowed


def test_lookup_on_a_visit_already_serving_someone_is_denied():
    d = decide(req(Action.LOOKUP, Role.REGISTRAR, visit=VisitFacts(SITE, True, "CK-A")))
    assert not d.allowed and "already serves" in d.reason
    assert decide(req(Action.LOOKUP, Role.REGISTRAR, visit=VisitFacts(SITE, True, None))).allowed


def test_statistics_need_exactly_one_program_and_only_the_actors_own():
    manager = Role.PROGRAM_MANAGER
    assert decide(req(Action.STATISTICS, manager, program_id="demo")).allowed
    none = decide(req(Action.STATISTICS, manager, actor_programs=frozenset()))
    assert not none.allowed and "has no site" in none.reason
    both = decide(req(Action.STATISTICS, manager, actor_programs=frozenset({"demo", "other"})))
    assert not both.allowed and "2 programs" in both.reason
    other = decide(req(Action.STATISTICS, manager, program_id="other"))
    assert not other.allowed and "'other'" in other.reason


def test_visits_are_handled_at_the_actors_own_sites_only():
    assert decide(req(Action.HANDLE_VISIT, Role.CLINICIAN, site_id=SITE)).allowed
    assert decide(req(Action.HANDLE_VISIT, Role.CLINICIAN, site_id=None)).allowed  # the queue of their own sites
    elsewhere = decide(req(Action.HANDLE_VISIT, Role.REGISTRAR, site_id="south"))
    assert not elsewhere.allowed and "do not work at site 'south'" in elsewhere.reason
    unapproved = decide(req(Action.HANDLE_VISIT, Role.REGISTRAR, actor_approved=False))
    assert not unapproved.allowed and "awaiting approval" in unapproved.reason


@pytest.mark.parametrize("action", [Action.FOLLOWUP_LIST, Action.CLOSE_REFERRAL])
def test_follow_up_list_and_closing_are_for_clinicians_of_that_site_only(action):
    """No visit is needed (the person is not there), but the site named must be one of the clinician's."""
    assert RULES[action].needs_own_site and not RULES[action].needs_visit
    assert decide(req(action, Role.CLINICIAN, visit=None)).allowed
    for site in ("south", None):
        d = decide(req(action, Role.CLINICIAN, visit=None, site_id=site))
        assert not d.allowed and "only for staff of that site" in d.reason
    assert not decide(req(action, Role.REGISTRAR, visit=None)).allowed


def test_an_offline_capture_is_enrolled_centrally_only_for_a_registrar_of_the_nodes_site_with_consent():
    ok = req(Action.ENROLL_OFFLINE_CAPTURE, Role.REGISTRAR, visit=None)
    assert decide(ok).allowed
    other_site = decide(replace(ok, site_id="south"))
    assert not other_site.allowed and "only for staff of that site" in other_site.reason
    withdrawn = decide(replace(ok, consents=frozenset({Purpose.CARE_RECORD})))
    assert not withdrawn.allowed and withdrawn.missing_consent is Purpose.BIOMETRIC_IDENTIFICATION
    assert not decide(replace(ok, role=Role.CLINICIAN)).allowed
