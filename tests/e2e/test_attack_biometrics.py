"""Insider attacks on the biometric JSON API (capture, identify, the possible-duplicate flow) with one staff account
and with the admin account: a person not present, a second person in a bound visit, a non-candidate merged, the
409 candidate list used as a way into another record, refused and unknown purposes, malformed forms. Each refusal
is pinned (status, nothing stored, the attempt in the log) so that it stays refused."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.e2e.test_api_biometrics import (
    BIO_H,
    CARE_H,
    FINGER_A,
    FINGER_B,
    api,  # noqa: F401 - fixture
    capture,
    log_actions,
    new_person,
    templates,
)


def token(client, username):
    r = client.post("/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def identify(client, headers, vid, image=FINGER_A, agreed="true", **form):
    return client.post(
        f"/visits/{vid}/identify",
        headers=headers,
        data={"modality": "fingerprint", "person_agreed": agreed} | form,
        files={"image": ("a.png", image, "image/png")},
    )


def test_capture_of_a_person_the_visit_did_not_find_is_refused_and_logged(api):  # noqa: F811
    client, built, reg = api
    _, pid = new_person(client, reg, "Efua", "NK6001")
    empty = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    before = templates(built)
    r = capture(client, reg, empty, pid)  # a person id learned elsewhere
    assert r.status_code == 403, r.text
    assert templates(built) == before
    assert log_actions(built)[-1] == ("enroll_biometric", "denied")
    # a visit bound to someone else serves nobody else either
    vid_b, other = new_person(client, reg, "Yaa", "NK6002")
    r = capture(client, reg, vid_b, pid)
    assert r.status_code == 403 and templates(built) == before


def test_the_duplicate_candidates_open_no_record_but_through_the_confirmation(api):  # noqa: F811
    client, built, reg = api
    v1, first = new_person(client, reg, "Abena", "NK6101")
    assert capture(client, reg, v1, first).status_code == 201
    _, bystander = new_person(client, reg, "Akua", "NK6103")
    v2, second = new_person(client, reg, "Abenaa", "NK6102")
    r = capture(client, reg, v2, second, position="left_index")
    assert r.status_code == 409 and [c["person_id"] for c in r.json()["candidates"]] == [first]
    # the candidate's record does not open in the visit serving the new enrollment
    r = client.get(f"/visits/{v2}/people/{first}", headers=reg | CARE_H)
    assert r.status_code == 403, r.text
    r = client.get(f"/visits/{v2}/people/{first}/exams", headers=reg | CARE_H)
    assert r.status_code in (403, 404), r.text
    # nor can the confirmation merge into someone the check did not offer
    r = client.post(
        f"/visits/{v2}/people/{second}/duplicate/confirm", json={"existing_person_id": bystander}, headers=reg | CARE_H
    )
    assert r.status_code == 409 and "candidate" in r.json()["detail"]
    with built.database.uow() as uow:
        assert uow.people.get(second) is not None and uow.people.get(bystander) is not None
    # a colleague cannot confirm in a visit someone else opened
    clin = token(client, "clinician")
    r = client.post(
        f"/visits/{v2}/people/{second}/duplicate/confirm", json={"existing_person_id": first}, headers=clin | CARE_H
    )
    assert r.status_code == 403, r.text
    with built.database.uow() as uow:
        assert uow.people.get(second) is not None


def test_a_bound_visit_identifies_only_its_own_person(api):  # noqa: F811
    client, _, reg = api
    v1, first = new_person(client, reg, "Adwoa", "NK6201")
    assert capture(client, reg, v1, first).status_code == 201
    v2, second = new_person(client, reg, "Esi", "NK6202")
    assert capture(client, reg, v2, second, image=FINGER_B, override="twins").status_code == 201
    # the visit serving Esi, probed with Adwoa's finger: a verification against Esi only, never a search
    r = identify(client, reg | BIO_H, v2, FINGER_A, position="right_index")
    assert r.status_code == 200 and first not in [c["person_id"] for c in r.json()]


@pytest.mark.parametrize("purpose", ["law_enforcement", "kinship", "Watch-List", "research", "care_record", ""])
def test_a_biometric_search_for_another_purpose_is_refused_not_a_500(api, purpose):  # noqa: F811
    client, built, reg = api
    v1, first = new_person(client, reg, "Afia", "NK6301")
    assert capture(client, reg, v1, first).status_code == 201
    vid = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    r = identify(client, reg | {"X-Carekey-Purpose": purpose}, vid)
    assert r.status_code in (400, 403, 422), r.text
    assert "person_id" not in r.text and first not in r.text
    r = client.post(
        f"/visits/{v1}/people/{first}/biometrics",
        headers=reg | {"X-Carekey-Purpose": purpose},
        data={"modality": "fingerprint", "position": "left_index"},
        files={"image": ("scan.png", FINGER_B, "image/png")},
    )
    assert r.status_code in (400, 403, 422), r.text
    assert templates(built) == 1


@pytest.mark.parametrize("username", ["admin", "manager", "auditor", "clinician-south", "registrar-south"])
def test_other_roles_and_sites_neither_capture_nor_identify(api, username):  # noqa: F811
    client, built, reg = api
    v1, first = new_person(client, reg, "Akosua", "NK6401")
    assert capture(client, reg, v1, first).status_code == 201
    other = token(client, username)
    r = identify(client, other | BIO_H, v1)
    assert r.status_code == 403, r.text
    assert first not in r.text
    r = capture(client, other | BIO_H, v1, first, position="left_index")
    assert r.status_code == 403, r.text
    assert templates(built) == 1


@pytest.mark.parametrize(
    "form, files",
    [
        ({"modality": "fingerprint" * 1000, "person_agreed": "true"}, [("image", ("a.png", FINGER_A, "image/png"))]),
        ({"modality": "fingerprint", "person_agreed": "maybe"}, [("image", ("a.png", FINGER_A, "image/png"))]),
        ({"modality": "fingerprint", "person_agreed": "true", "position": ["x" * 5000]}, [("image", ("a", FINGER_A))]),
        ({"modality": "iris", "person_agreed": "true"}, [("image", ("a.png", b"", "image/png"))]),
        ({"modality": "fingerprint", "person_agreed": "true"}, [("image", ("a.png", b"\x00" * 64, "image/png"))] * 11),
        ({"modality": "fingerprint", "person_agreed": "true"}, []),
    ],
)
def test_malformed_identification_is_a_4xx_and_offers_nobody(api, form, files):  # noqa: F811
    client, built, reg = api
    vid = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    r = client.post(f"/visits/{vid}/identify", headers=reg | BIO_H, data=form, files=files or None)
    assert 400 <= r.status_code < 500, r.text
    with built.database.uow() as uow:
        assert uow.visits.offers(vid) == {}


def test_the_duplicate_check_is_no_unlimited_search(api):  # noqa: F811
    """A throwaway enrollment probed again and again with someone's finger: each 409 candidate list is a search of
    the program, counted like an identification, until the account's hourly limit answers 429 with no candidates."""
    client, built, reg = api
    v1, first = new_person(client, reg, "Abla", "NK6501")
    assert capture(client, reg, v1, first).status_code == 201
    built.settings.identifications_per_hour = 6
    v2, throwaway = new_person(client, reg, "Kafui", "NK6502")
    codes = [capture(client, reg, v2, throwaway, position="left_index").status_code for _ in range(8)]
    assert 409 in codes and codes[-1] == 429, codes
    assert codes.count(409) <= 6
    r = capture(client, reg, v2, throwaway, position="left_index")
    assert r.status_code == 429 and first not in r.text
