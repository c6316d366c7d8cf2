"""Replays of the second, black-box red-team pass (after issue 11): each finding through the public HTTP API (and
the CLI where the path is there), asserted refused, logged and, for purposes, counted.

F1  enrollment's duplicate check is an unlimited name search ..... test_enrollment_searches_count_as_lookups
F2  refused purposes counted as "other" .......................... tests/unit/test_refusal_labels.py
F3  one admin defeats the two-person rule through the CLI ........ test_cli_account_changes_need_a_named_admin
F4  unlimited guesses of a colleague's password as approver ...... test_approver_passwords_are_limited
F5  sign-in tells that a card exists in several programs ......... tests/faults/test_login_limiter.py
                                                                   (test_a_shared_card_is_not_cleared_by_one_holders_pin)
F6  limiter rows hold an unsalted hash of the card ............... tests/faults/test_login_limiter.py
F7  open visits never expire; anyone binds a colleague's visit ... test_visits_expire_and_only_their_opener_binds_them
F8  two purpose headers, the first wins .......................... test_two_purpose_headers_are_refused_and_counted
F9  the biometric duplicate check is outside the rate limit ...... test_enrollment_searches_count_as_lookups (the
                                                                   same count_search; biometric captures in
                                                                   tests/integration/test_enrollment_duplicates.py)
F10 ten wrong PINs a minute forever .............................. tests/faults/test_login_limiter.py
F11 a colleague vouches for a person who has a PIN ............... test_a_colleague_cannot_vouch_for_a_person_with_a_pin
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.test_insider import CARE, SECOND, enroll, log_of, open_visit


def person_body(card: str, given: str = "Abena", family: str = "Owusu") -> dict[str, object]:
    return {
        "person": {
            "given_name": given,
            "family_name": family,
            "sex": "female",
            "birth_year": 1990,
            "card_number": card,
            "village": "Gumani",
        },
        "consent": {"granted": ["care_record"], "notice_version": "v1", "language": "en"},
    }


def test_a_colleague_cannot_vouch_for_a_person_with_a_pin(app, world, client, login):
    pid = enroll(app, world, "RT001", pin="246813")
    reg = login("registrar")
    vid = open_visit(client, reg)
    assert client.post(f"/visits/{vid}/lookup", json={"card_number": "RT001"}, headers=reg | CARE).status_code == 200
    assert client.get(f"/visits/{vid}/people/{pid}", headers=reg | CARE).status_code == 200
    erase = client.request(
        "DELETE", f"/visits/{vid}/people/{pid}", headers=reg | CARE, json={"presence": SECOND}
    )  # staff-initiated erasure vouched by a colleague, the person absent
    assert erase.status_code == 403 and "types their PIN" in erase.json()["detail"], erase.text
    grant = {"purpose": "ehr_sharing", "granted": True, "notice_version": "v1", "language": "en", "presence": SECOND}
    r = client.post(f"/visits/{vid}/people/{pid}/consents", json=grant, headers=reg | CARE)
    assert r.status_code == 403 and "types their PIN" in r.json()["detail"], r.text
    # a forgotten PIN of a person without biometrics: two staff members may still set a new one
    r = client.post(f"/visits/{vid}/people/{pid}/pin", json={"pin": "381946", "presence": SECOND}, headers=reg | CARE)
    assert r.status_code == 204, r.text
    app.services.transparency.integrate()
    assert ("erase", "denied") in log_of(app, pid)


def test_approver_passwords_are_limited(app, world, client, login):
    pid = enroll(app, world, "RT002")
    reg = login("registrar")
    vid = open_visit(client, reg)
    client.post(f"/visits/{vid}/lookup", json={"card_number": "RT002"}, headers=reg | CARE)
    limit = app.settings.presence_pin_failures_per_hour
    statuses = []
    for i in range(limit + 2):
        wrong = {"approver_username": "clinician", "approver_password": f"guess-{i}"}
        r = client.post(
            f"/visits/{vid}/people/{pid}/pin", json={"pin": "381946", "presence": wrong}, headers=reg | CARE
        )
        statuses.append(r.status_code)
    assert statuses[:limit] == [403] * limit and statuses[-1] == 429, statuses
    r = client.post(f"/visits/{vid}/people/{pid}/pin", json={"pin": "381946", "presence": SECOND}, headers=reg | CARE)
    assert r.status_code == 429  # the right password waits too: the limit is no oracle
    unknown = {"approver_username": "nobody-at-all", "approver_password": "x"}
    other = login("registrar-south")
    vid2 = open_visit(client, other, "south")
    client.post(f"/visits/{vid2}/lookup", json={"card_number": "RT002"}, headers=other | CARE)
    r = client.post(
        f"/visits/{vid2}/people/{pid}/pin", json={"pin": "381946", "presence": unknown}, headers=other | CARE
    )
    assert r.status_code == 403 and "nobody-at-all" not in r.text


def test_enrollment_searches_count_as_lookups(app, world, client, login):
    app.settings.identifications_per_hour = 3
    reg = login("registrar")
    codes = []
    for i in range(5):
        vid = open_visit(client, reg)
        r = client.post(f"/visits/{vid}/people", json=person_body(f"RT1{i:02d}"), headers=reg | CARE)
        codes.append(r.status_code)
    # the first enrollment is new, the next two are possible duplicates of it (same name, year, village), then
    # the account has spent its searches: no more candidates, whatever the route
    assert codes[0] == 201 and codes[1:3] == [409, 409] and codes[3:] == [429, 429], codes
    vid = open_visit(client, reg)
    assert client.post(f"/visits/{vid}/lookup", json={"card_number": "RT100"}, headers=reg | CARE).status_code == 429


def test_visits_expire_and_only_their_opener_binds_them(app, world, client, login):
    pid = enroll(app, world, "RT003")
    reg, clin = login("registrar"), login("clinician")
    vid = open_visit(client, reg)
    client.post(f"/visits/{vid}/lookup", json={"card_number": "RT003"}, headers=reg | CARE)
    r = client.get(f"/visits/{vid}/people/{pid}", headers=clin | CARE)  # a colleague takes the offered person
    assert r.status_code == 403 and "opened this visit" in r.json()["detail"]
    assert client.get(f"/visits/{vid}/people/{pid}", headers=reg | CARE).status_code == 200
    assert client.get(f"/visits/{vid}/people/{pid}/exams", headers=clin | CARE).status_code == 200  # handover
    clock = app.services.deps.clock
    clock.now = datetime.now(UTC) + timedelta(hours=13)
    clin = login("clinician")  # a new day's sign-in: the visit of yesterday serves nobody
    r = client.get(f"/visits/{vid}/people/{pid}/exams", headers=clin | CARE)
    assert r.status_code == 403 and "12 hours" in r.json()["detail"]


def test_two_purpose_headers_are_refused_and_counted(app, world, client, login):
    pid = enroll(app, world, "RT004")
    reg = login("registrar")
    vid = open_visit(client, reg)
    headers = [
        ("Authorization", reg["Authorization"]),
        ("X-Carekey-Purpose", "care_record"),
        ("X-Carekey-Purpose", "law_enforcement"),
    ]
    r = client.post(f"/visits/{vid}/lookup", json={"card_number": "RT004"}, headers=headers)
    assert r.status_code == 403 and r.json()["type"] == "urn:carekey:problem:refused-purpose", r.text
    assert pid not in r.text
    assert [c.count for c in app.services.transparency.refusals() if c.purpose == "law_enforcement"] == [1]


def test_cli_account_changes_need_a_named_admin(tmp_path):
    from tests.e2e.test_cli import ck

    data = tmp_path / "d"
    assert ck("init", "--data", data).exit_code == 0
    assert ck("demo", "--data", data, "--people", 2).exit_code == 0
    r = ck(
        "user",
        "add",
        "evil-reg",
        "--role",
        "registrar",
        "--site",
        "north",
        "--data",
        data,
        env={"CAREKEY_NEW_PASSWORD": "long enough password"},
    )
    assert r.exit_code == 3 and "--user" in r.output, r.output
    r = ck("user", "reset-password", "registrar", "--data", data, env={"CAREKEY_NEW_PASSWORD": "long enough password"})
    assert r.exit_code == 3 and "--user" in r.output, r.output
    pw = {u: p for u, _, p in (line.split("\t") for line in (data / "demo-users.txt").read_text().splitlines())}
    r = ck(
        "user",
        "add",
        "new-reg",
        "--role",
        "registrar",
        "--site",
        "north",
        "--data",
        data,
        "--user",
        "admin",
        env={"CAREKEY_NEW_PASSWORD": "long enough password", "CAREKEY_PASSWORD": pw["admin"]},
    )
    assert r.exit_code == 0, r.output
    r = ck("user", "approve", "new-reg", "--data", data, "--user", "admin", env={"CAREKEY_PASSWORD": pw["admin"]})
    assert r.exit_code != 0  # the admin who created it cannot approve it
