"""Web forms through TestClient: server-side errors next to their field, role checks, uploads, no-record exams."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient

from carekey.domain.consent import Grantor
from carekey.services.consents import ConsentInput
from carekey.services.people import PersonInput
from tests.e2e.web_support import FIXTURES, csrf_of, sign_in


def open_visit(client: TestClient, token: str) -> str:
    r = client.post("/visit", data={"csrf": token, "site_id": "north"})
    return str(r.url).rsplit("/", 1)[1]


def confirm_card(client: TestClient, token: str, vid: str, card: str) -> None:
    r = client.post(f"/visit/{vid}/lookup", data={"csrf": token, "by": "card", "card_number": card})
    pid = re.search(r'name="person_id" value="([^"]+)"', r.text).group(1)
    offer = re.search(r'name="offer" value="([^"]+)"', r.text).group(1)
    client.post(f"/visit/{vid}/confirm", data={"csrf": token, "person_id": pid, "offer": offer})


def field_error(html: str, name: str) -> str:
    m = re.search(rf'id="err-{name}"[^>]*>([^<]+)<', html)
    return m.group(1) if m else ""


def test_exam_out_of_range_is_shown_next_to_the_field_and_nothing_is_stored(web):
    client, _, built = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1001")
    clin = TestClient(client.app)
    ctoken = sign_in(clin, "clinician")
    r = clin.post(
        f"/visit/{vid}/exam", data={"csrf": ctoken, "systolic_bp": "900", "diastolic_bp": "85", "pulse": "abc"}
    )
    assert r.status_code == 422
    assert field_error(r.text, "pulse") == "enter a number"
    assert 'value="900"' in r.text  # what was typed is kept
    r = clin.post(f"/visit/{vid}/exam", data={"csrf": ctoken, "systolic_bp": "900", "diastolic_bp": "85"})
    assert r.status_code == 422
    assert "outside the plausible range 50-260" in field_error(r.text, "systolic_bp")
    r = clin.get(f"/visit/{vid}")
    assert "No exam yet" in r.text
    r = clin.post(f"/visit/{vid}/exam", data={"csrf": ctoken, "systolic_bp": "128", "diastolic_bp": "84"})
    assert "Exam recorded" in r.text and "128/84 mmHg" in r.text


def test_roles_and_sites_are_enforced_with_a_clear_page(web):
    client, _, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    clin = TestClient(client.app)
    ctoken = sign_in(clin, "clinician")
    r = clin.post(f"/visit/{vid}/lookup", data={"csrf": ctoken, "by": "card", "card_number": "NK1001"})
    assert r.status_code == 403 and "recorded in the access log" in r.text and "Ama" not in r.text
    south = TestClient(client.app)
    stoken = sign_in(south, "registrar-south")
    r = south.get(f"/visit/{vid}")
    assert r.status_code == 404 and "no visit" in r.text
    r = south.post(f"/visit/{vid}/lookup", data={"csrf": stoken, "by": "card", "card_number": "NK1001"})
    assert r.status_code == 403 and "Ama" not in r.text
    anon = TestClient(client.app)
    r = anon.get(f"/visit/{vid}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_enroll_errors_duplicate_card_and_child_needs_guardian(web):
    client, _, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    base = {
        "csrf": token,
        "notice_version": "v1",
        "language": "en",
        "given_name": "Yaw",
        "family_name": "Darko",
        "sex": "male",
        "birth_year": "1990",
        "card_number": "NK1001",
        "grant": ["care_record"],
    }
    r = client.post(f"/visit/{vid}/enroll", data=base)
    assert r.status_code == 409 and field_error(r.text, "card_number")
    r = client.post(f"/visit/{vid}/enroll", data=base | {"card_number": "NK7001", "grant": []})
    assert r.status_code == 403 and "nothing about the person is stored" in field_error(r.text, "grant")
    child = base | {"card_number": "NK7002", "birth_year": str(date.today().year - 8)}
    r = client.post(f"/visit/{vid}/enroll", data=child)
    assert r.status_code == 422 and "under 12 a guardian" in field_error(r.text, "guardian_name")
    r = client.post(f"/visit/{vid}/enroll", data=child | {"language": "de"})
    assert r.status_code == 422
    r = client.post(
        f"/visit/{vid}/enroll",
        data=child | {"guardian_name": "Esi Darko", "guardian_relation": "aunt", "language": "fr"},
    )
    assert r.status_code == 200 and "Person enrolled" in r.text and "Yaw Darko" in r.text


def test_uploads_bad_image_too_large_and_no_consent(web, settings):
    client, _, built = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1001")
    form = {"csrf": token, "modality": "fingerprint", "position": "right_index"}
    r = client.post(f"/visit/{vid}/capture", data=form, files={"image": ("x.png", b"not an image", "image/png")})
    assert r.status_code == 422 and "not a readable image" in r.text
    big = b"0" * (built.settings.upload_max_bytes + 1)
    r = client.post(f"/visit/{vid}/capture", data=form, files={"image": ("x.png", big, "image/png")})
    assert r.status_code == 422 and "larger than" in r.text
    r = client.post(
        f"/visit/{vid}/capture",
        data=form | {"position": "left_eye"},
        files={"image": ("a.png", (FIXTURES / "finger_a.png").read_bytes(), "image/png")},
    )
    assert r.status_code == 422 and "choose one of" in r.text
    r = client.post(
        f"/visit/{vid}/capture",
        data=form,
        files={"image": ("a.png", (FIXTURES / "finger_a.png").read_bytes(), "image/png")},
    )
    assert r.status_code == 200 and "Accepted" in r.text
    other = open_visit(client, token)
    confirm_card(client, token, other, "NK1002")  # Kwame granted care_record only
    r = client.post(
        f"/visit/{other}/capture",
        data=form,
        files={"image": ("a.png", (FIXTURES / "finger_a.png").read_bytes(), "image/png")},
    )
    assert r.status_code == 403 and "Consent missing" in r.text


def test_screening_without_record_shows_results_and_stores_nothing(web):
    client, _, built = web
    token = sign_in(client)
    vid = open_visit(client, token)
    with built.database.uow() as uow:
        before = uow.access_log.size()
    r = client.post(
        f"/visit/{vid}/screening",
        data={"csrf": token, "systolic_bp": "150", "diastolic_bp": "95", "glucose_mmol_l": "7,2"},
    )
    assert r.status_code == 200 and "Not stored" in r.text and "7.2 mmol/L" in r.text
    with built.database.uow() as uow:
        assert uow.access_log.size() == before  # no person named, nothing read, nothing logged


def test_registrar_changes_consents_and_sets_a_pin(web):
    client, _, built = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1002")  # Kwame: care_record only
    r = client.get(f"/visit/{vid}/consent")
    assert r.status_code == 200 and "Your health check and your data" in r.text
    r = client.post(
        f"/visit/{vid}/consent",
        data={"csrf": token, "notice_version": "v1", "language": "fr", "show_language": "fr", "grant": ["care_record"]},
    )
    assert "Votre bilan de santé" in r.text
    wanted = {"csrf": token, "notice_version": "v1", "language": "fr", "grant": ["care_record", "aggregate_statistics"]}
    r = client.post(f"/visit/{vid}/consent", data=wanted)  # Kwame refused statistics at enrollment
    assert r.status_code == 403 and 'id="presence-error"' in r.text and "prove they are here" in r.text
    second = {"approver_username": "clinician", "approver_password": "correct horse battery"}
    r = client.post(f"/visit/{vid}/consent", data=wanted | second)  # Kwame has a PIN: no colleague vouches
    assert r.status_code == 403 and "types their PIN" in r.text
    r = client.post(f"/visit/{vid}/consent", data=wanted | {"presence_pin": "246813"})  # one step, same form
    assert "Consent decision recorded" in r.text and re.search(r"✓\s+aggregate statistics", r.text)
    r = client.post(f"/visit/{vid}/pin", data={"csrf": token, "pin": "12"})
    assert r.status_code == 422 and "6-8 digits" in r.text
    r = client.post(f"/visit/{vid}/pin", data={"csrf": token, "pin": "975310"})
    assert r.status_code == 403 and "prove they are here" in r.text
    r = client.post(f"/visit/{vid}/pin", data={"csrf": token, "pin": "975310"} | second)
    assert "PIN set" in r.text
    assert built.services.patients.login("NK1002", "975310").person_id


def test_web_urls_carry_only_the_random_visit_id():
    from carekey.interfaces.web.routes import ROUTERS

    params = {p for router in ROUTERS for r in router.routes for p in re.findall(r"{(\w+)}", r.path)}
    # a statistics release id and a referral id are random and name nobody; usernames and actions name staff
    # accounts, never a person
    assert params == {"visit_id", "release_id", "referral_id", "username", "action"}


def test_name_lookup_page_shows_at_most_five_candidates_with_the_minimum_to_confirm(web):
    client, _, built = web
    s = built.services
    registrar = s.auth.authenticate(sign_in_token(client))
    for i in range(7):
        visit = s.visits.open(registrar, "north")
        s.people.enroll(
            registrar,
            visit.id,
            "care_record",
            PersonInput("Ama", "Mensah", "female", 1980, f"TW{i:04d}", district="Northern"),
            ConsentInput.parse(["care_record"], "v1", "en", Grantor()),
            confirm_new=True,
        )
    token = csrf_of(client.get("/").text)
    vid = open_visit(client, token)
    r = client.post(
        f"/visit/{vid}/lookup", data={"csrf": token, "by": "name", "name": "Ama Mensah", "birth_year": "1980"}
    )
    assert r.text.count('class="card candidate"') == 5
    assert "TW000" not in r.text and "Northern" not in r.text  # no card number, no district: name, year, village


def sign_in_token(client: TestClient) -> str:
    sign_in(client)
    return client.cookies["ck_staff"]


def test_biometric_search_without_the_persons_agreement_is_denied_and_logged(web):
    client, _, built = web
    token = sign_in(client)
    vid = open_visit(client, token)
    finger = ("a.png", (FIXTURES / "finger_a.png").read_bytes(), "image/png")
    built.services.transparency.integrate()  # entries() and size() read integrated entries
    with built.database.uow() as uow:
        before = uow.access_log.size()
    r = client.post(f"/visit/{vid}/identify", data={"csrf": token, "modality": "fingerprint"}, files={"image": finger})
    assert r.status_code == 422 and "tick this box only if they agree" in field_error(r.text, "agree")
    built.services.transparency.integrate()
    with built.database.uow() as uow:
        events = [e.event for e in uow.access_log.entries(before, uow.access_log.size())]
    assert [(e.action, e.outcome) for e in events] == [("identify_biometric", "denied")]
    assert "agreement of the person present" in events[0].reason
    r = client.post(
        f"/visit/{vid}/identify",
        data={"csrf": token, "modality": "fingerprint", "agree": "yes"},
        files={"image": finger},
    )
    assert r.status_code == 200
