"""Fingerprint and iris through the JSON API (multipart): capture, identify, the possible-duplicate flow (confirm,
override, two captures of one finger racing), the demographic duplicate, and bad input -> 4xx, nothing lost."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from carekey.interfaces.api.problems import MEDIA
from tests.conftest import PASSWORD
from tests.e2e.web_support import FIXTURES

BIO_H = {"X-Carekey-Purpose": "biometric_identification"}
CARE_H = {"X-Carekey-Purpose": "care_record"}
FINGER_A, FINGER_B = (FIXTURES / "finger_a.png").read_bytes(), (FIXTURES / "finger_b.png").read_bytes()
CONSENT = {"granted": ["care_record", "biometric_identification"], "notice_version": "v1", "language": "en"}


def person(given, card, **kw):
    return {
        "given_name": given,
        "family_name": "Owusu",
        "sex": "female",
        "birth_year": 1990,
        "card_number": card,
        "district": "Northern",
        "village": "Gumani",
    } | kw


def templates(built):
    with built.database.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM biometric_templates")).scalar_one()


def log_actions(built):
    built.services.transparency.integrate()  # committed entries into the tree (entries() reads integrated ones)
    with built.database.uow() as uow:
        return [(e.event.action, e.event.outcome) for e in uow.access_log.entries(0, uow.access_log.size())]


@pytest.fixture
def api(web):
    client, _, built = web
    r = client.post("/auth/token", json={"username": "registrar", "password": PASSWORD})
    assert r.status_code == 200, r.text
    reg = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return client, built, reg


def new_person(client, reg, given, card, **kw):
    vid = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    r = client.post(
        f"/visits/{vid}/people", json={"person": person(given, card, **kw), "consent": CONSENT}, headers=reg | CARE_H
    )
    assert r.status_code == 201, r.text
    return vid, r.json()["id"]


def capture(client, reg, vid, pid, image=FINGER_A, modality="fingerprint", position="right_index", **form):
    return client.post(
        f"/visits/{vid}/people/{pid}/biometrics",
        headers=reg | BIO_H,
        data={"modality": modality, "position": position} | form,
        files={"image": ("scan.png", image, "image/png")},
    )


def test_capture_duplicate_confirm_and_identify(api):
    client, built, reg = api
    v1, first = new_person(client, reg, "Abena", "NK5001")
    r = capture(client, reg, v1, first)
    assert r.status_code == 201, r.text
    assert r.json()["enrolled"] == {"fingerprint": ["right_index"], "iris": []}

    v2, second = new_person(client, reg, "Abenaa", "NK5002")  # the same person, enrolled again by mistake
    r = capture(client, reg, v2, second, position="left_index")
    assert r.status_code == 409 and r.headers["content-type"].startswith(MEDIA)
    body = r.json()
    assert body["type"] == "urn:carekey:problem:possible-duplicate"
    assert [(c["person_id"], c["given_name"], c["score"]) for c in body["candidates"]] == [(first, "Abena", 100.0)]
    assert templates(built) == 1
    assert ("enroll_biometric_result", "granted") in log_actions(built)

    r = client.post(
        f"/visits/{v2}/people/{second}/duplicate/confirm", json={"existing_person_id": first}, headers=reg | CARE_H
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == first and r.json()["given_name"] == "Abena"
    assert client.get(f"/visits/{v2}/people/{second}", headers=reg | CARE_H).status_code in (403, 404)
    with built.database.uow() as uow:
        assert uow.people.get(second) is None

    v3 = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    r = client.post(
        f"/visits/{v3}/identify",
        headers=reg | BIO_H,
        data={"modality": "fingerprint", "person_agreed": "true", "position": "right_index"},
        files={"image": ("a.png", FINGER_A, "image/png")},
    )
    assert r.status_code == 200, r.text
    assert [c["person_id"] for c in r.json()] == [first]
    r = client.post(
        f"/visits/{v3}/identify",
        headers=reg | BIO_H,
        data={"modality": "fingerprint", "person_agreed": "true"},
        files={"image": ("b.png", FINGER_B, "image/png")},
    )
    assert r.status_code == 200 and r.json() == []


def test_override_and_replace(api):
    client, built, reg = api
    v1, first = new_person(client, reg, "Efua", "NK6001")
    assert capture(client, reg, v1, first).status_code == 201
    v2, twin = new_person(client, reg, "Ekua", "NK6002")
    assert capture(client, reg, v2, twin).status_code == 409
    r = capture(client, reg, v2, twin, override="cousins")
    assert r.status_code == 422 and "override" in r.json()["detail"]
    r = capture(client, reg, v2, twin, override="twins")
    assert r.status_code == 201, r.text
    assert ("duplicate_override_twins", "granted") in log_actions(built)
    r = capture(client, reg, v2, twin, image=FINGER_B)
    assert r.status_code == 409 and "already enrolled" in r.json()["detail"]
    r = capture(client, reg, v2, twin, image=FINGER_B, replace="true")
    assert r.status_code == 201 and templates(built) == 2


def test_two_captures_of_one_finger_racing(api):
    client, built, reg = api
    people = [new_person(client, reg, name, card) for name, card in (("Kojo", "NK7001"), ("Kwaku", "NK7002"))]
    gate, out = threading.Barrier(2), [None, None]

    def run(i):
        gate.wait()
        out[i] = capture(client, reg, *people[i]).status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(out) == [201, 409]
    assert templates(built) == 1


def test_demographic_duplicate_through_the_api(api):
    client, _, reg = api
    _, first = new_person(client, reg, "Yaa", "NK8001")
    vid = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    body = {"person": person("YAA ", "NK8002"), "consent": CONSENT}
    r = client.post(f"/visits/{vid}/people", json=body, headers=reg | CARE_H)
    assert r.status_code == 409 and r.json()["type"] == "urn:carekey:problem:possible-duplicate"
    assert [c["person_id"] for c in r.json()["candidates"]] == [first]
    r = client.post(f"/visits/{vid}/people", json=body | {"confirm_new_person": True}, headers=reg | CARE_H)
    assert r.status_code == 201 and r.json()["id"] != first


def test_bad_input_is_a_clear_4xx_and_nothing_is_lost(api):
    client, built, reg = api
    vid, pid = new_person(client, reg, "Akos", "NK9001")
    assert capture(client, reg, vid, pid).status_code == 201
    before = templates(built)
    r = capture(client, reg, vid, pid, image=b"not an image", position="left_index")
    assert r.status_code == 422 and r.json()["type"] == "urn:carekey:problem:capture-rejected"
    assert ("enroll_biometric", "granted") in log_actions(built)[-1:]  # the attempt is logged and committed
    r = capture(client, reg, vid, pid, modality="voice")
    assert r.status_code == 422 and "modality" in r.json()["detail"]
    r = capture(client, reg, vid, pid, position="left_eye")
    assert r.status_code == 422 and "position" in r.json()["detail"]
    r = client.post(
        f"/visits/{vid}/people/{pid}/biometrics",
        headers=reg | BIO_H,
        data={"modality": "fingerprint", "position": "left_index"},
    )
    assert r.status_code == 422 and "image" in r.json()["detail"]
    assert templates(built) == before

    nxt = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    files = {"image": ("a.png", FINGER_A, "image/png")}
    r = client.post(f"/visits/{nxt}/identify", headers=reg | BIO_H, data={"modality": "fingerprint"}, files=files)
    assert r.status_code == 422 and "person_agreed" in r.json()["detail"]
    r = client.post(
        f"/visits/{nxt}/identify",
        headers=reg | BIO_H,
        data={"modality": "fingerprint", "person_agreed": "false"},
        files=files,
    )
    assert r.status_code == 403 and "agreement" in r.json()["detail"]
    assert log_actions(built)[-1] == ("identify_biometric", "denied")
    r = client.post(
        f"/visits/{nxt}/identify",
        headers=reg | BIO_H,
        data={"modality": "iris", "person_agreed": "true"},
        files={"image": ("x.png", b"\x89PNG broken", "image/png")},
    )
    assert r.status_code == 422 and r.json()["type"] == "urn:carekey:problem:capture-rejected"
    r = client.post(
        f"/visits/{nxt}/identify",
        headers=reg | BIO_H,
        data={"modality": "fingerprint", "person_agreed": "true", "position": ["right_index"]},
        files=[("image", ("a.png", FINGER_A, "image/png")), ("image", ("b.png", FINGER_B, "image/png"))],
    )
    assert r.status_code == 422 and "one position per image" in r.json()["detail"]
    assert templates(built) == before


def test_openapi_documents_the_biometric_routes(api):
    client, _, _ = api
    spec = client.get("/openapi.json").json()
    capture_op = spec["paths"]["/visits/{visit_id}/people/{person_id}/biometrics"]["post"]
    identify_op = spec["paths"]["/visits/{visit_id}/identify"]["post"]
    for op, codes in (
        (capture_op, {"201", "401", "403", "404", "409", "413", "422", "503"}),
        (identify_op, {"200", "401", "403", "409", "413", "422", "429", "503"}),
    ):
        assert codes <= set(op["responses"]), op["responses"].keys()
        assert "multipart/form-data" in op["requestBody"]["content"]
        assert "curl" in op["description"]
    assert "possible-duplicate" in capture_op["description"]
    assert "/visits/{visit_id}/people/{person_id}/duplicate/confirm" in spec["paths"]
