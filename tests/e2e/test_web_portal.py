"""Patient portal, dashboard and auditor view through TestClient: erasure, role separation, no rows for managers."""

from __future__ import annotations

import json

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
    client, app, _ = web
    token = sign_in(client, "manager")
    r = client.post("/dashboard", data={"csrf": token, "view": "count:", "epsilon": "2"})
    assert r.status_code == 200 and r.text.count('class="bar"') == 54
    for secret in ("Ama", "Mensah", "NK1001", "Kwame"):
        assert secret not in r.text
    r = client.post("/dashboard", data={"csrf": token, "view": "count:", "epsilon": "9"})
    assert r.status_code == 403 and "only 8" in r.text
    r = client.post("/dashboard", data={"csrf": token, "view": "kinship:yes", "epsilon": "1"})
    assert r.status_code == 422 and "choose a figure" in r.text
