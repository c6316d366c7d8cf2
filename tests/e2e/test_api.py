"""The API through HTTP: one visit, and each kind of bad input of issue 2 (4xx problem, nothing written)."""

import pytest
import sqlalchemy as sa

from carekey.domain.purposes import CONSENT_PURPOSES

CARE = {"X-Carekey-Purpose": "care_record"}
PERSON = {
    "given_name": "Ama",
    "family_name": "Mensah",
    "sex": "female",
    "birth_year": 1980,
    "card_number": "NK1001",
    "district": "Northern",
    "village": "Tamale",
}
CONSENT = {"granted": ["care_record", "biometric_identification"], "notice_version": "v1", "language": "en"}


def rows(app, table):
    with app.database.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def is_problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("urn:carekey")
    return body


@pytest.fixture
def visit(client, login):
    reg, clin = login("registrar"), login("clinician")
    v = client.post("/visits", json={"site_id": "north"}, headers=reg).json()
    r = client.post(f"/visits/{v['id']}/people", json={"person": PERSON, "consent": CONSENT}, headers=reg | CARE)
    assert r.status_code == 201, r.text
    return v["id"], r.json()["id"], reg, clin


def test_one_visit(client, visit):
    vid, pid, reg, clin = visit
    exam = {"systolic_bp": 142, "diastolic_bp": 91, "height_cm": 158, "weight_kg": 71, "blood_type": "A+"}
    r = client.post(f"/visits/{vid}/people/{pid}/exams", json=exam, headers=clin | CARE)
    assert r.status_code == 201 and r.json()["bmi"] == 28.4
    assert {o["loinc"] for o in r.json()["observations"]} >= {"8480-6", "882-1", "39156-5"}
    exams = client.get(f"/visits/{vid}/people/{pid}/exams", headers=clin | CARE).json()
    assert len(exams) == 1 and exams[0]["stored"] is True
    person = client.get(f"/visits/{vid}/people/{pid}", headers=clin | CARE).json()
    assert person["family_name"] == "Mensah" and "care_record" in person["consents"]
    r = client.post(f"/visits/{vid}/lookup", json={"name": "ama mensa", "birth_year": 1980}, headers=reg | CARE)
    assert r.status_code == 403 and "already serves" in r.json()["detail"]  # one visit, one person
    nxt = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    hits = client.post(
        f"/visits/{nxt}/lookup", json={"name": "ama mensa", "birth_year": 1980}, headers=reg | CARE
    ).json()
    assert [h["person_id"] for h in hits] == [pid]
    assert client.post(f"/visits/{vid}/close", headers=reg).json()["is_open"] is False


def test_malformed_json(client, visit, app):
    vid, pid, _, clin = visit
    r = client.post(
        f"/visits/{vid}/people/{pid}/exams",
        content=b'{"pulse": 7',
        headers=clin | CARE | {"Content-Type": "application/json"},
    )
    assert "JSON" in is_problem(r, 400)["title"]
    assert rows(app, "exams") == 0


def test_bp_900_and_unknown_blood_type(client, visit, app):
    vid, pid, _, clin = visit
    body = is_problem(
        client.post(
            f"/visits/{vid}/people/{pid}/exams", json={"systolic_bp": 900, "diastolic_bp": 80}, headers=clin | CARE
        ),
        422,
    )
    assert "900" in body["detail"] and body["field"] == "systolic_bp"
    body = is_problem(
        client.post(f"/visits/{vid}/people/{pid}/exams", json={"blood_type": "Q"}, headers=clin | CARE), 422
    )
    assert "blood type" in body["detail"]
    assert rows(app, "exams") == 0


def test_birth_year_in_future(client, login, app):
    reg = login("registrar")
    vid = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    r = client.post(
        f"/visits/{vid}/people", json={"person": PERSON | {"birth_year": 3000}, "consent": CONSENT}, headers=reg | CARE
    )
    assert "birth year" in is_problem(r, 422)["detail"]
    assert rows(app, "people") == 0


def test_missing_and_revoked_consent(client, visit, login, app):
    vid, pid, reg, clin = visit
    v2 = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    r = client.post(
        f"/visits/{v2}/people",
        json={"person": PERSON | {"card_number": "NK2"}, "consent": CONSENT | {"granted": ["aggregate_statistics"]}},
        headers=reg | CARE,
    )
    assert is_problem(r, 403)["purpose"] == "care_record"
    assert rows(app, "people") == 1
    r = client.post(
        f"/visits/{vid}/people/{pid}/consents",
        json={"purpose": "care_record", "granted": False, "notice_version": "v1", "language": "en"},
        headers=reg | CARE,
    )
    assert r.status_code == 201 and r.json()["granted"] is False
    is_problem(client.get(f"/visits/{vid}/people/{pid}/exams", headers=clin | CARE), 403)


def test_expired_and_missing_token(client, visit, app):
    vid, pid, reg, _ = visit
    is_problem(client.get(f"/visits/{vid}/people/{pid}", headers=CARE), 401)
    is_problem(client.get(f"/visits/{vid}/people/{pid}", headers=CARE | {"Authorization": "Bearer nope"}), 401)
    clock = app.services.deps.clock
    from datetime import UTC, datetime, timedelta

    clock.now = datetime.now(UTC) + timedelta(minutes=app.settings.token_minutes + 1)
    r = client.get(f"/visits/{vid}/people/{pid}", headers=reg | CARE)
    assert "expired" in is_problem(r, 401)["detail"] and r.headers["www-authenticate"] == "Bearer"


def test_closed_visit(client, visit, app):
    vid, pid, reg, clin = visit
    client.post(f"/visits/{vid}/close", headers=reg)
    assert (
        "closed"
        in is_problem(client.post(f"/visits/{vid}/people/{pid}/exams", json={"pulse": 70}, headers=clin | CARE), 403)[
            "detail"
        ]
    )
    assert rows(app, "exams") == 0


def test_other_sites_person(client, visit, login):
    vid, pid, _, _ = visit
    south = login("clinician-south")
    assert "site" in is_problem(client.get(f"/visits/{vid}/people/{pid}/exams", headers=south | CARE), 403)["detail"]
    v_south = client.post("/visits", json={"site_id": "south"}, headers=south).json()["id"]
    other = login("registrar")
    is_problem(client.get(f"/visits/{v_south}/people/{pid}", headers=other | CARE), 403)


def test_purpose_header_required_and_refusals_counted(client, visit):
    vid, pid, reg, _ = visit
    assert "X-Carekey-Purpose" in is_problem(client.get(f"/visits/{vid}/people/{pid}", headers=reg), 400)["detail"]
    r = client.get(f"/visits/{vid}/people/{pid}", headers=reg | {"X-Carekey-Purpose": "law_enforcement"})
    body = is_problem(r, 403)
    assert body["purpose"] == "law_enforcement" and "never" in body["detail"]
    client.get(f"/visits/{vid}/people/{pid}", headers=reg | {"X-Carekey-Purpose": "curiosity"})
    counts = {(c["purpose"], c["count"]) for c in client.get("/transparency/refusals").json()}
    assert counts == {("law_enforcement", 1), ("other", 1)}


def test_login_rate_limited(client, app):
    for _ in range(app.settings.login_attempts_per_minute):
        is_problem(client.post("/auth/token", json={"username": "registrar", "password": "wrong-password"}), 401)
    r = client.post("/auth/token", json={"username": "registrar", "password": "correct horse battery"})
    assert is_problem(r, 429) and r.headers["retry-after"] == "60"


def test_admin_reads_no_records_but_manages_users(client, visit, login):
    vid, pid, _, _ = visit
    admin = login("admin")
    is_problem(client.get(f"/visits/{vid}/people/{pid}", headers=admin | CARE), 403)
    r = client.post(
        "/admin/users",
        json={"username": "nurse-2", "role": "clinician", "password": "long enough pw", "site_ids": ["north"]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["username"], made["role"], made["site_ids"], made["approved"]) == (
        "nurse-2",
        "clinician",
        ["north"],
        False,
    )  # reaches no data until a second person approves
    listed = {u["username"]: u for u in client.get("/admin/users", headers=admin).json()}
    assert listed["nurse-2"]["id"] == made["id"] and not listed["nurse-2"]["approved"]
    is_problem(
        client.post(
            "/admin/users",
            json={"username": "x2", "role": "admin", "password": "long enough pw"},
            headers=login("registrar"),
        ),
        403,
    )


def test_exam_without_record_is_not_stored(client, login, app):
    clin = login("clinician")
    vid = client.post("/visits", json={"site_id": "north"}, headers=clin).json()["id"]
    r = client.post(f"/visits/{vid}/screenings", json={"systolic_bp": 118, "diastolic_bp": 76}, headers=clin)
    assert r.status_code == 200 and r.json()["stored"] is False and r.json()["person_id"] is None
    assert rows(app, "exams") == 0


def test_openapi_documents_every_route_and_lists_no_people(client):
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method} {path} has no summary"
            assert path != "/people" and not (method == "get" and path.endswith("/people"))
    assert "X-Carekey-Purpose" in str(spec["paths"]["/visits/{visit_id}/people/{person_id}"])


def test_duplicate_card_and_unknown_fields(client, visit, login, app):
    _, _, reg, clin = visit
    v2 = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    r = client.post(
        f"/visits/{v2}/people",
        json={"person": PERSON | {"card_number": "nk-1001"}, "consent": CONSENT},
        headers=reg | CARE,
    )
    assert "already enrolled" in is_problem(r, 409)["detail"]
    assert rows(app, "people") == 1 and rows(app, "consents") == len(CONSENT_PURPOSES)
    r = client.post(
        f"/visits/{v2}/people", json={"person": PERSON | {"ssn": "1"}, "consent": CONSENT}, headers=reg | CARE
    )
    assert "ssn" in is_problem(r, 422)["detail"]
    r = client.post(f"/visits/{v2}/lookup", json={}, headers=reg | CARE)
    assert "card_number" in is_problem(r, 422)["detail"]
