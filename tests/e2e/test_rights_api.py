"""Patients' rights, statistics and the auditor through the HTTP API."""

import base64

import pytest

from carekey.audit.merkle import verify_consistency
from carekey.audit.proofs import verify_access_receipt
from carekey.audit.sth import SignedTreeHead
from tests.integration.helpers import consent, person_input

CARE = {"X-Carekey-Purpose": "care_record"}


def enroll(app, world, card, district="Northern", sex="female", birth_year=1980, granted=None, exam=None):
    s = app.services
    visit = s.visits.open(world.registrar, "north")
    view = s.people.enroll(
        world.registrar,
        visit.id,
        "care_record",
        person_input(card_number=card, district=district, sex=sex, birth_year=birth_year),
        consent(granted) if granted else consent(),
        pin="135792",
        confirm_new=True,
    )
    if exam:
        s.exams.record(world.clinician, visit.id, "care_record", view.person.id, exam)
    return visit.id, view.person.id


def patient_headers(client, card):
    r = client.post("/patient/token", json={"card_number": card, "pin": "135792"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_patient_verifies_an_access_with_only_the_public_key(app, world, client, login):
    visit, pid = enroll(app, world, "PV001", exam={"systolic_bp": 128, "diastolic_bp": 84})
    assert client.get(f"/visits/{visit}/people/{pid}/exams", headers=login("clinician") | CARE).status_code == 200
    me = patient_headers(client, "PV001")
    accesses = client.get("/patient/accesses", headers=me).json()
    published = client.get("/transparency/tree-head").json()  # what anyone can fetch
    key = bytes.fromhex(published["public_key"])
    sth = SignedTreeHead.from_dict(published["signed_tree_head"])
    assert sth.verify(key)
    read = next(a for a in accesses if a["event"]["action"] == "read_exams")
    assert read["event"]["role"] == "clinician" and read["event"]["site_id"] == "north"
    assert read["event"]["purpose"] == "care_record" and read["event"]["outcome"] == "granted"
    assert all(verify_access_receipt(a, key) for a in accesses)
    assert read["receipt"]["signed_tree_head"] == published["signed_tree_head"]
    # later accesses grow the log: the new head must extend the one in the receipt
    client.get("/patient/record", headers=me)
    newer = SignedTreeHead.from_dict(client.get("/transparency/tree-head").json()["signed_tree_head"])
    proof = client.get(f"/transparency/consistency?first={sth.size}&second={newer.size}").json()
    path = [base64.b64decode(p) for p in proof["consistency_path"]]
    assert newer.size > sth.size and verify_consistency(sth.size, newer.size, sth.root, newer.root, path)
    tampered = read | {"event": read["event"] | {"role": "admin"}}
    assert not verify_access_receipt(tampered, key)


def test_patient_revocation_takes_effect_on_next_call(app, world, client, login):
    visit, pid = enroll(app, world, "PV002")
    reg = login("registrar") | CARE
    assert client.get(f"/visits/{visit}/people/{pid}", headers=reg).status_code == 200
    me = patient_headers(client, "PV002")
    r = client.post("/patient/consents/care_record/revoke", headers=me)
    assert r.status_code == 200 and r.json()["granted"] is False and r.json()["by"] == "the person"
    r = client.get(f"/visits/{visit}/people/{pid}", headers=reg)
    assert r.status_code == 403 and r.json()["type"] == "urn:carekey:problem:consent-missing"
    assert client.post("/patient/consents/watchlist/revoke", headers=me).status_code == 422
    exported = client.get("/patient/export", headers=me).json()
    assert exported["person"]["id"] == pid and exported["consents"][-1]["granted"] is False
    assert client.post("/patient/erasure", headers=me).status_code == 204
    assert client.get("/patient/record", headers=me).status_code == 401


def test_patient_login_rate_limited_and_staff_token_refused(app, world, client, login):
    enroll(app, world, "PV003")
    assert client.get("/patient/record", headers=login("registrar")).status_code == 401
    codes = [
        client.post("/patient/token", json={"card_number": "PV003", "pin": "0000"}).status_code
        for _ in range(app.settings.login_attempts_per_minute + 1)
    ]
    assert codes[:-1] == [401] * app.settings.login_attempts_per_minute and codes[-1] == 429


def test_budget_refuses_past_limit_through_the_api(app, world, client, login):
    app.services.deps.settings.privacy_budget_epsilon = 1.0
    enroll(app, world, "PV004", exam={"systolic_bp": 150, "diastolic_bp": 95})
    pm = login("manager") | {"X-Carekey-Purpose": "aggregate_statistics"}
    assert client.post("/stats/releases", headers=pm, json={"statistic": "count", "epsilon": 0.7}).status_code == 200
    r = client.post("/stats/releases", headers=pm, json={"statistic": "hypertension", "epsilon": 0.5})
    assert r.status_code == 403 and r.json()["type"] == "urn:carekey:problem:budget-exhausted"
    b = client.get("/stats/budget", headers=pm).json()
    assert b["epsilon_spent"] == pytest.approx(0.7) and len(b["releases"]) == 1
    bad = client.post("/stats/releases", headers=pm, json={"statistic": "names", "epsilon": 0.1})
    assert bad.status_code == 422
    assert client.get("/stats/budget", headers=pm).json()["epsilon_spent"] == pytest.approx(0.7)  # nothing charged


def test_statistics_are_noisy_and_within_their_stated_accuracy(app, world, client, login):
    app.services.deps.settings.privacy_budget_epsilon = 1000.0
    for i in range(12):  # 12 women aged 45-59 in Northern; 8 consent to statistics
        granted = ("care_record", "aggregate_statistics") if i < 8 else ("care_record",)
        enroll(
            app, world, f"PS{i:03d}", granted=granted, exam={"systolic_bp": 150 if i % 2 else 120, "diastolic_bp": 80}
        )
    truth = 8
    pm = login("manager") | {"X-Carekey-Purpose": "aggregate_statistics"}
    inside, values, runs = 0, set(), 40
    for _ in range(runs):
        out = client.post("/stats/releases", headers=pm, json={"statistic": "count", "epsilon": 1.0}).json()
        assert "confidence" in out and out["confidence"] == 0.95
        fig = next(f for f in out["figures"] if f["level"] == "total")
        lo, hi = fig["count_ci95"]
        inside += lo <= truth <= hi
        values.add(fig["count"])
        assert "unit" not in str(out) and "PS0" not in str(out)  # never a row or an id
    assert len(values) > 1  # noisy
    assert inside >= 0.8 * runs  # 95 % intervals: P(fewer than 32 of 40) is about 0.0009


def test_auditor_route_reports_without_personal_data(app, world, client, login):
    enroll(app, world, "PV005")
    aud = login("auditor") | {"X-Carekey-Purpose": "audit"}
    client.get("/transparency/tree-head")
    report = client.get("/audit/verify", headers=aud).json()
    assert report["ok"] is True and report["entries"] >= 2 and report["heads_checked"] >= 1
    saved = client.get("/transparency/tree-head").json()["signed_tree_head"]
    assert client.post("/audit/verify", headers=aud, json={"heads": [saved]}).json()["ok"] is True
    forged = saved | {"tree_size": saved["tree_size"] + 5}
    bad = client.post("/audit/verify", headers=aud, json={"heads": [forged]}).json()
    assert bad["ok"] is False and "bad_signature" in {p["kind"] for p in bad["problems"]}
    assert client.post("/audit/verify", headers=aud, json={"heads": [{"x": 1}]}).status_code == 422
    assert client.get("/audit/verify", headers=login("admin") | {"X-Carekey-Purpose": "audit"}).status_code == 403


def test_writes_end_with_a_signed_tree_head(app, world, client, login):
    app.services.deps.settings.tree_head_seconds = 0
    before = len(app.services.transparency.heads())
    r = client.post("/visits", headers=login("registrar"), json={"site_id": "north"})  # logins are writes too
    assert r.status_code == 201
    heads = app.services.transparency.heads()
    assert len(heads) > before
    with app.database.uow() as uow:
        assert heads[-1].size == uow.access_log.size()
