"""Patient portal, dashboard and auditor view through TestClient: erasure, role separation, no rows for managers."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from tests.e2e.web_support import csrf_of, sign_in


def patient_sign_in(client: TestClient, card: str = "NK1001", pin: str = "246813") -> str:
    token = csrf_of(client.get("/me/login").text)
    r = client.post("/me/login", data={"csrf": token, "card_number": card, "pin": pin}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return token


def test_patient_export_and_erasure(web):
    client, _, built = web
    token = patient_sign_in(client)
    r = client.post("/me/export", data={"csrf": token})
    data = json.loads(r.text)
    assert r.headers["content-disposition"].startswith("attachment") and data["person"]["card_number"] == "NK1001"
    r = client.post("/me/erase", data={"csrf": token})
    assert r.status_code == 422 and "tick the box" in r.text
    r = client.post("/me/erase", data={"csrf": token, "confirm": "yes"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get("/me", follow_redirects=False).headers["location"] == "/me/login"
    r = client.post("/me/login", data={"csrf": token, "card_number": "NK1001", "pin": "246813"})
    assert r.status_code == 401 and "wrong card number or PIN" in r.text
    with built.database.uow() as uow:
        assert uow.people.count() == 1  # only Kwame is left


def test_screens_are_kept_to_their_role(web):
    client, app, _ = web
    patient_sign_in(client)
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == "/login"  # a patient is no staff
    registrar = TestClient(app)
    sign_in(registrar, "registrar")
    for path in ("/dashboard", "/auditor"):
        r = registrar.get(path)
        assert r.status_code == 403 and "this screen is for" in r.text
    assert registrar.get("/me", follow_redirects=False).headers["location"] == "/me/login"
    manager = TestClient(app)
    sign_in(manager, "manager")
    assert manager.get("/", follow_redirects=False).headers["location"] == "/dashboard"
    assert manager.get("/auditor").status_code == 403
    r = manager.get("/visit/V-0")
    assert r.status_code == 403
    auditor = TestClient(app)
    sign_in(auditor, "auditor")
    assert auditor.get("/", follow_redirects=False).headers["location"] == "/auditor"
    assert auditor.get("/dashboard").status_code == 403


def test_dashboard_shows_only_noisy_aggregates_and_refuses_past_the_budget(web):
    client, _, built = web
    built.services.deps.settings.privacy_budget_epsilon = 1.5
    token = sign_in(client, "manager")
    r = client.post("/dashboard", data={"csrf": token, "view": "count:", "epsilon": "1", "breakdown": "district_sex"})
    assert r.status_code == 200 and 'id="release-result"' in r.text
    assert r.text.count('class="bar') >= 1 and 'class="err"' in r.text  # the total at least (few people seeded)
    for secret in ("Ama", "Mensah", "NK1001", "Kwame"):
        assert secret not in r.text
    rid = re.search(r'href="/dashboard/releases/(R-[0-9a-f]+)/csv"', r.text)[1]
    csv_text = client.get(f"/dashboard/releases/{rid}/csv").text
    assert csv_text.startswith("program,period,statistic,level") and ",total," in csv_text
    assert client.get(f"/dashboard/releases/{rid}").status_code == 200
    r = client.post("/dashboard", data={"csrf": token, "view": "count:", "epsilon": "1"})
    assert r.status_code == 403 and "only 0.5" in r.text
    r = client.post("/dashboard", data={"csrf": token, "view": "count:", "epsilon": "2"})
    assert r.status_code == 422 and "between 0.01 and 1" in r.text  # the per-release cap
    r = client.post("/dashboard", data={"csrf": token, "view": "kinship:yes", "epsilon": "1"})
    assert r.status_code == 422 and "choose a figure" in r.text


def test_dashboard_downloads_are_walled_in_the_managers_program(web):
    from carekey.domain.program import Program, Site
    from carekey.services.admin import DEMO_SEED, LOCAL_OPERATOR
    from tests.conftest import PASSWORD

    client, app, built = web
    admin = built.services.admin
    admin.create_program(LOCAL_OPERATOR, Program("other", "Other screening", ("v1",), ("en",)))
    admin.add_site(LOCAL_OPERATOR, Site("west", "other", "West clinic", "Western"))
    admin.add_user(LOCAL_OPERATOR, "manager-other", "program_manager", PASSWORD, ["west"])
    admin.approve_user(DEMO_SEED, "manager-other")
    token = sign_in(client, "manager")
    r = client.post("/dashboard", data={"csrf": token, "view": "count:", "epsilon": "0.5"})
    rid = re.search(r'href="/dashboard/releases/(R-[0-9a-f]+)/csv"', r.text)[1]
    r = client.get(f"/dashboard/releases/{rid}/dhis2")
    assert r.status_code == 422 and "mapping" in r.text  # no mapping file yet: a clear message, no 500
    with TestClient(app) as other:
        sign_in(other, "manager-other")
        assert other.get("/dashboard").status_code == 200
        for suffix in ("", "/csv", "/dhis2"):
            path = f"/dashboard/releases/{rid}{suffix}"
            assert other.get(path).status_code == 404
        assert rid not in other.get("/dashboard").text
    with TestClient(app) as clinician:
        sign_in(clinician, "clinician")
        assert clinician.get(f"/dashboard/releases/{rid}/csv").status_code == 403


def test_patient_withdraws_and_says_yes_again_in_the_portal(web):
    client, _, _ = web
    token = patient_sign_in(client)
    r = client.post("/me/consents", data={"csrf": token, "purpose": "aggregate_statistics"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/me/consents").text
    assert 'id="yes-aggregate_statistics"' in page and 'id="stop-aggregate_statistics"' not in page
    assert "Nobody can pick you out" in page  # the notice's own sentence, next to the button
    r = client.post(
        "/me/consents/grant", data={"csrf": token, "purpose": "aggregate_statistics"}, follow_redirects=False
    )
    assert r.status_code == 303
    page = client.get("/me/consents").text
    assert 'id="stop-aggregate_statistics"' in page and 'id="yes-aggregate_statistics"' not in page
    r = client.post("/me/consents/grant", data={"purpose": "aggregate_statistics"})  # no CSRF token
    assert r.status_code == 403
