"""The insider suite (issue 11): each finding replayed through the public HTTP API with ordinary staff accounts
and the admin account, asserted refused, logged and (for purposes) counted; plus the legitimate flows.

Finding -> test:
1. one empty visit reads many people ............ test_one_empty_visit_reads_nobody
2. staff override a withdrawal .................. test_staff_cannot_override_a_withdrawal
3. portal takeover from another site ............ test_no_portal_takeover_from_another_site
4. biometric search crosses programs ............ tests/integration/test_lookup_biometrics.py::
                                                  test_biometric_search_stays_inside_the_visit_s_program
5. admin becomes a record reader ................ test_admin_cannot_give_itself_access, test_site_limit_*
6. the API binds any known id to an empty visit . test_one_empty_visit_reads_nobody, test_past_visit_hides_its_person
7. a manager learns one person's value .......... (statistics: tests/e2e/test_stats*.py of the statistics work)
8. silent oracles ............................... test_duplicate_card_is_logged, test_pin_reset_ends_sessions
9. the public count hides law enforcement ....... test_disguised_law_enforcement_is_counted_by_name
"""

from __future__ import annotations

import pytest

from carekey.domain.consent import Grantor, GrantorKind
from carekey.services.consents import ConsentInput
from tests.conftest import PASSWORD
from tests.integration.helpers import consent, person_input

CARE = {"X-Carekey-Purpose": "care_record"}
SECOND = {"approver_username": "clinician", "approver_password": PASSWORD}


def enroll(app, world, card, pin=None, site="north", granted=None):
    registrar = world.registrar if site == "north" else world.registrar_south
    visit = app.services.visits.open(registrar, site)
    view = app.services.people.enroll(
        registrar,
        visit.id,
        "care_record",
        person_input(card_number=card),
        consent(granted) if granted else consent(),
        pin=pin,
        confirm_new=True,
    )
    app.services.visits.close(registrar, visit.id)
    return view.person.id


def open_visit(client, headers, site="north"):
    r = client.post("/visits", json={"site_id": site}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def log_of(app, person_id):
    with app.database.uow() as uow:
        return [(e.event.action, e.event.outcome) for e in uow.access_log.for_person(person_id)]


def test_one_empty_visit_reads_nobody(app, world, client, login):
    people = [enroll(app, world, f"IN{i:03d}") for i in range(5)]
    clin, reg = login("clinician"), login("registrar")
    vid = open_visit(client, clin)
    for pid in people:
        r = client.get(f"/visits/{vid}/people/{pid}/exams", headers=clin | CARE)
        assert r.status_code == 403 and "did not find this person" in r.json()["detail"]
        assert ("read_exams", "denied") in log_of(app, pid)
    rvid = open_visit(client, reg)
    for pid in people:
        assert client.get(f"/visits/{rvid}/people/{pid}/consents", headers=reg | CARE).status_code == 403
        assert client.get(f"/visits/{rvid}/people/{pid}", headers=reg | CARE).status_code == 403
    # the legitimate path: a lookup offers the person, the first read binds the visit, and it serves only them
    hits = client.post(f"/visits/{rvid}/lookup", json={"card_number": "IN000"}, headers=reg | CARE).json()
    assert [h["person_id"] for h in hits] == [people[0]]
    assert client.get(f"/visits/{rvid}/people/{people[0]}", headers=reg | CARE).status_code == 200
    assert client.get(f"/visits/{rvid}/people/{people[0]}/consents", headers=reg | CARE).status_code == 200
    r = client.get(f"/visits/{rvid}/people/{people[1]}/consents", headers=reg | CARE)
    assert r.status_code == 403 and "another person" in r.json()["detail"]
    r = client.post(f"/visits/{rvid}/lookup", json={"card_number": "IN001"}, headers=reg | CARE)
    assert r.status_code == 403 and "already serves" in r.json()["detail"]
    # the clinician takes over the bound visit and reads the exams of that person, and of nobody else
    assert client.get(f"/visits/{rvid}/people/{people[0]}/exams", headers=clin | CARE).status_code == 200
    assert client.get(f"/visits/{rvid}/people/{people[2]}/exams", headers=clin | CARE).status_code == 403


def test_past_visit_hides_its_person(app, world, client, login):
    reg = login("registrar")
    vid = open_visit(client, reg)
    r = client.post(
        f"/visits/{vid}/people",
        json={
            "person": {
                "given_name": "Abla",
                "family_name": "Kuma",
                "sex": "female",
                "birth_year": 1990,
                "card_number": "PV9001",
            },
            "consent": {"granted": ["care_record"], "notice_version": "v1", "language": "en"},
        },
        headers=reg | CARE,
    )
    assert r.status_code == 201
    assert client.get(f"/visits/{vid}", headers=reg).json()["person_id"] == r.json()["id"]  # open: shown
    client.post(f"/visits/{vid}/close", headers=reg)
    assert client.get(f"/visits/{vid}", headers=reg).json()["person_id"] is None  # closed: a visit id leaks nobody
    assert client.get(f"/visits/{vid}", headers=login("registrar-south")).status_code == 404  # other site


def test_staff_cannot_override_a_withdrawal(app, world, client, login):
    pid = enroll(app, world, "WD001", pin="135792")
    patient = client.post("/patient/token", json={"card_number": "WD001", "pin": "135792"}).json()["access_token"]
    me = {"Authorization": f"Bearer {patient}"}
    for purpose in ("biometric_identification", "aggregate_statistics"):
        assert client.post(f"/patient/consents/{purpose}/revoke", headers=me).status_code in (200, 201)
    reg = login("registrar")
    empty = open_visit(client, reg)
    grant = {"purpose": "biometric_identification", "granted": True, "notice_version": "v1", "language": "en"}
    r = client.post(f"/visits/{empty}/people/{pid}/consents", json=grant, headers=reg | CARE)
    assert r.status_code == 403  # not found by this visit
    vid = open_visit(client, reg)
    client.post(f"/visits/{vid}/lookup", json={"card_number": "WD001"}, headers=reg | CARE)
    assert client.get(f"/visits/{vid}/people/{pid}", headers=reg | CARE).status_code == 200
    for purpose in ("biometric_identification", "aggregate_statistics"):
        r = client.post(f"/visits/{vid}/people/{pid}/consents", json=grant | {"purpose": purpose}, headers=reg | CARE)
        assert r.status_code == 403 and r.json()["type"] == "urn:carekey:problem:presence-required"
        wrong = grant | {"purpose": purpose, "presence": {"pin": "0000"}}
        assert client.post(f"/visits/{vid}/people/{pid}/consents", json=wrong, headers=reg | CARE).status_code == 403
    assert ("prove_presence", "denied") in log_of(app, pid)
    # the person is there and types their PIN: the consent is theirs to give again
    r = client.post(
        f"/visits/{vid}/people/{pid}/consents", json=grant | {"presence": {"pin": "135792"}}, headers=reg | CARE
    )
    assert r.status_code == 201 and r.json()["granted"] is True
    with app.database.uow() as uow:
        [entry] = [
            e.event
            for e in uow.access_log.for_person(pid)
            if e.event.action == "record_consent" and e.event.outcome == "granted"
        ]
    assert "presence proven by pin" in entry.reason  # and the person sees how in their access log


def test_a_withdrawn_care_record_hides_the_person_from_lookups(app, world, client, login):
    pid = enroll(app, world, "WD002", pin="135792")
    me = {
        "Authorization": "Bearer "
        + client.post("/patient/token", json={"card_number": "WD002", "pin": "135792"}).json()["access_token"]
    }
    assert client.post("/patient/consents/care_record/revoke", headers=me).status_code in (200, 201)
    reg = login("registrar")
    vid = open_visit(client, reg)
    assert client.post(f"/visits/{vid}/lookup", json={"card_number": "WD002"}, headers=reg | CARE).json() == []
    grant = {"purpose": "care_record", "granted": True, "notice_version": "v1", "language": "en"}
    assert client.post(f"/visits/{vid}/people/{pid}/consents", json=grant, headers=reg | CARE).status_code == 403
    assert client.get(f"/visits/{vid}/people/{pid}", headers=reg | CARE).status_code == 403


def test_the_person_says_yes_again_in_the_portal_and_is_found_again(app, world, client, login):
    """The way back from a withdrawal is the person's own: signed in with card and PIN, not a staff override."""
    pid = enroll(app, world, "WD003", pin="135792")
    me = {
        "Authorization": "Bearer "
        + client.post("/patient/token", json={"card_number": "WD003", "pin": "135792"}).json()["access_token"]
    }
    assert client.post("/patient/consents/care_record/revoke", headers=me).status_code == 200
    reg = login("registrar")
    assert (
        client.post(
            f"/visits/{open_visit(client, reg)}/lookup", json={"card_number": "WD003"}, headers=reg | CARE
        ).json()
        == []
    )
    r = client.post("/patient/consents/care_record/grant", headers=me)
    assert r.status_code == 200 and r.json()["purpose"] == "care_record" and r.json()["granted"] is True
    assert client.post("/patient/consents/care_record/grant", headers=me).status_code == 422  # already granted
    assert client.post("/patient/consents/police/grant", headers=me).status_code == 422
    assert client.post("/patient/consents/biometric_identification/revoke", headers=me).status_code == 200
    r = client.post("/patient/consents/biometric_image_retention/grant", headers=me)  # needs biometrics first
    assert r.status_code == 422 and "biometric_identification" in r.text
    found = client.post(f"/visits/{open_visit(client, reg)}/lookup", json={"card_number": "WD003"}, headers=reg | CARE)
    assert [c["person_id"] for c in found.json()] == [pid]
    app.services.transparency.integrate()
    assert ("patient_grant", "granted") in log_of(app, pid)
    assert client.post("/patient/consents/care_record/grant").status_code == 401  # nobody else can say it for them


def test_a_minor_says_yes_again_only_with_a_guardian_at_a_screening(app, world, client):
    registrar = world.registrar
    visit = app.services.visits.open(registrar, "north")
    guardian = Grantor(GrantorKind.SELF, "Efua Mensah", "mother")
    app.services.people.enroll(
        registrar,
        visit.id,
        "care_record",
        person_input(card_number="WD004", birth_year=2012),
        ConsentInput.parse(["care_record", "aggregate_statistics"], "v1", "en", guardian),
        pin="135792",
        confirm_new=True,
    )
    app.services.visits.close(registrar, visit.id)
    me = {
        "Authorization": "Bearer "
        + client.post("/patient/token", json={"card_number": "WD004", "pin": "135792"}).json()["access_token"]
    }
    assert client.post("/patient/consents/aggregate_statistics/revoke", headers=me).status_code == 200
    r = client.post("/patient/consents/aggregate_statistics/grant", headers=me)
    assert r.status_code == 422 and "guardian" in r.text


def test_no_portal_takeover_from_another_site(app, world, client, login):
    pid = enroll(app, world, "TK001", pin="246813")
    south = login("registrar-south")
    vid = open_visit(client, south, "south")
    hits = client.post(f"/visits/{vid}/lookup", json={"card_number": "TK001"}, headers=south | CARE).json()
    assert [h["person_id"] for h in hits] == [pid]  # the same program: a person may come to any of its sites
    assert client.get(f"/visits/{vid}/people/{pid}", headers=south | CARE).status_code == 200
    r = client.post(f"/visits/{vid}/people/{pid}/pin", json={"pin": "381946"}, headers=south | CARE)
    assert r.status_code == 403 and "prove they are here" in r.json()["detail"]
    r = client.post(f"/visits/{vid}/people/{pid}/pin", json={"pin": "381946", "presence": SECOND}, headers=south | CARE)
    assert r.status_code == 403 and "visit's site" in r.json()["detail"]  # a north clinician cannot vouch at south
    r = client.delete(f"/visits/{vid}/people/{pid}", headers=south | CARE)
    assert r.status_code == 403
    assert client.post("/patient/token", json={"card_number": "TK001", "pin": "246813"}).status_code == 200
    assert client.post("/patient/token", json={"card_number": "TK001", "pin": "381946"}).status_code == 401
    assert ("set_pin", "denied") in log_of(app, pid) and ("erase", "denied") in log_of(app, pid)


def test_pin_reset_with_a_second_staff_member_ends_sessions_and_shows_who(app, world, client, login):
    pid = enroll(app, world, "PR001", pin="246813")
    patient = client.post("/patient/token", json={"card_number": "PR001", "pin": "246813"}).json()["access_token"]
    me = {"Authorization": f"Bearer {patient}"}
    assert client.get("/patient/record", headers=me).status_code == 200
    reg = login("registrar")
    vid = open_visit(client, reg)
    client.post(f"/visits/{vid}/lookup", json={"card_number": "PR001"}, headers=reg | CARE)
    client.get(f"/visits/{vid}/people/{pid}", headers=reg | CARE)
    bad = SECOND | {"approver_username": "registrar"}  # the actor cannot vouch for themself
    assert (
        client.post(
            f"/visits/{vid}/people/{pid}/pin", json={"pin": "864200", "presence": bad}, headers=reg | CARE
        ).status_code
        == 403
    )
    r = client.post(f"/visits/{vid}/people/{pid}/pin", json={"pin": "864200", "presence": SECOND}, headers=reg | CARE)
    assert r.status_code == 204, r.text
    assert client.get("/patient/record", headers=me).status_code == 401  # the open session ended
    new = client.post("/patient/token", json={"card_number": "PR001", "pin": "864200"}).json()["access_token"]
    accesses = client.get("/patient/accesses", headers={"Authorization": f"Bearer {new}"}).text
    assert "clinician" in accesses and "two-person rule" in accesses


def test_duplicate_card_is_logged(app, world, client, login):
    enroll(app, world, "DU001")
    reg = login("registrar")
    vid = open_visit(client, reg)
    app.services.transparency.integrate()  # entries() and size() read integrated entries
    with app.database.uow() as uow:
        before = uow.access_log.size()
    r = client.post(
        f"/visits/{vid}/people",
        json={
            "person": {
                "given_name": "X",
                "family_name": "Y",
                "sex": "male",
                "birth_year": 1970,
                "card_number": "DU001",
            },
            "consent": {"granted": ["care_record"], "notice_version": "v1", "language": "en"},
        },
        headers=reg | CARE,
    )
    assert r.status_code == 409
    app.services.transparency.integrate()
    with app.database.uow() as uow:
        last = uow.access_log.entries(before, uow.access_log.size())[-1].event
    assert (last.action, last.outcome) == ("enroll", "denied") and "already" in last.reason


def test_admin_cannot_give_itself_access(app, world, client, login):
    admin = login("admin")
    r = client.post(
        "/admin/users",
        json={"username": "mole", "role": "registrar", "password": "a long password!", "site_ids": ["north"]},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["approved"] is False
    mole = {
        "Authorization": "Bearer "
        + client.post("/auth/token", json={"username": "mole", "password": "a long password!"}).json()["access_token"]
    }
    assert client.post("/visits", json={"site_id": "north"}, headers=mole).status_code == 403
    assert client.post("/admin/users/mole/approve", headers=admin).status_code == 403  # its creator
    # a second admin made by the same admin is itself unapproved, and cannot approve anything
    client.post(
        "/admin/users", json={"username": "admin2", "role": "admin", "password": "a long password!"}, headers=admin
    )
    admin2 = {
        "Authorization": "Bearer "
        + client.post("/auth/token", json={"username": "admin2", "password": "a long password!"}).json()["access_token"]
    }
    assert client.post("/admin/users/mole/approve", headers=admin2).status_code == 403
    # a password reset of a working account suspends it until a second person approves
    r = client.post("/admin/users/registrar/password", json={"password": "the admin knows it"}, headers=admin)
    assert r.status_code == 200 and r.json()["approved"] is False
    reg = client.post("/auth/token", json={"username": "registrar", "password": "the admin knows it"}).json()
    assert (
        client.post(
            "/visits", json={"site_id": "north"}, headers={"Authorization": f"Bearer {reg['access_token']}"}
        ).status_code
        == 403
    )
    # the program manager is a second person: the account now works
    assert client.post("/admin/users/mole/approve", headers=login("manager")).status_code == 200
    assert client.post("/visits", json={"site_id": "north"}, headers=mole).status_code == 201
    # deactivation signs out at once
    assert client.post("/admin/users/mole/deactivate", headers=admin).status_code == 200
    assert client.post("/visits", json={"site_id": "north"}, headers=mole).status_code == 401
    counts = {a["action"]: a["count"] for a in client.get("/transparency/admin-actions").json()}
    assert counts["admin_add_user"] >= 2 and counts["admin_reset_password"] == 1
    assert counts["admin_approve_user"] >= 1 and counts["admin_deactivate"] == 1


def test_site_limit_holds_across_accounts(app, world, client, login):
    app.services.deps.settings = app.services.deps.settings.model_copy(update={"identifications_per_site_per_day": 3})
    for name in ("registrar", "registrar"):
        h = login(name)
        for _ in range(2):
            vid = open_visit(client, h)
            client.post(f"/visits/{vid}/lookup", json={"card_number": "NOBODY"}, headers=h | CARE)
    h = login("registrar")
    vid = open_visit(client, h)
    r = client.post(f"/visits/{vid}/lookup", json={"card_number": "NOBODY"}, headers=h | CARE)
    assert r.status_code == 429 and "per day at site north" in r.json()["detail"]


@pytest.mark.parametrize(
    ("purpose", "label"),
    [
        ("police", "law_enforcement"),
        ("lawenforcement", "law_enforcement"),
        ("Law-Enforcement", "law_enforcement"),
        ("Immigration", "immigration"),
        ("intelligence", "security"),
    ],
)
def test_disguised_law_enforcement_is_counted_by_name(app, world, client, login, purpose, label):
    pid = enroll(app, world, "LE001")
    reg = login("registrar")
    vid = open_visit(client, reg)
    r = client.get(f"/visits/{vid}/people/{pid}", headers=reg | {"X-Carekey-Purpose": purpose})
    assert r.status_code == 403 and r.json()["type"] == "urn:carekey:problem:refused-purpose"
    counts = {c["purpose"]: c["count"] for c in client.get("/transparency/refusals").json()}
    assert counts == {label: 1}


def test_a_utf8_purpose_header_is_read_as_utf8(app, world, client, login):
    """A full-width 'police' sent as UTF-8 header bytes is counted as law enforcement, not as mojibake 'other'."""
    pid = enroll(app, world, "LE002")
    reg = login("registrar")
    vid = open_visit(client, reg)
    r = client.get(f"/visits/{vid}/people/{pid}", headers=reg | {"X-Carekey-Purpose": "ｐｏｌｉｃｅ".encode()})
    assert r.status_code == 403 and r.json()["type"] == "urn:carekey:problem:refused-purpose"
    assert {c["purpose"]: c["count"] for c in client.get("/transparency/refusals").json()} == {"law_enforcement": 1}
