"""The image opt-in in the web UI: a separate, unticked choice (EN + FR) on the consent screens, refused without
biometric consent, shown to the person in the portal, and withdrawn there (the images go at once)."""

from __future__ import annotations

import re

from tests.e2e.test_web_forms import confirm_card, field_error, open_visit
from tests.e2e.test_web_portal import patient_sign_in
from tests.e2e.web_support import FIXTURES, sign_in

IMAGES = "biometric_image_retention"


def checkbox(html: str, value: str) -> str:
    m = re.search(rf'<input type="checkbox" name="grant" value="{value}"[^>]*>', html)
    assert m, f"no {value} choice on the page"
    return m.group(0)


def images_of(built, card):  # type: ignore[no-untyped-def]
    with built.database.uow() as uow:
        pid = next(p.id for p in uow.people.in_program("demo") if p.card_bidx == built.services.deps.index.card(card))
        return uow.images.for_person(pid)


def test_the_opt_in_is_a_separate_unticked_choice_in_english_and_french(web):
    client, _, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    enroll = client.get(f"/visit/{vid}/enroll").text
    assert "checked" not in checkbox(enroll, IMAGES)
    assert "Also keep my fingerprint and eye pictures" in enroll
    confirm_card(client, token, vid, "NK1001")  # Ama granted care, biometrics and statistics: not the images
    page = client.get(f"/visit/{vid}/consent").text
    assert "checked" in checkbox(page, "biometric_identification") and "checked" not in checkbox(page, IMAGES)
    assert "locked with your own key" in page
    fr = client.post(f"/visit/{vid}/consent", data={"csrf": token, "show_language": "fr"}).text
    assert "checked" not in checkbox(fr, IMAGES) and "Garder aussi les photos de mon empreinte" in fr


def test_granting_it_without_biometrics_is_refused_next_to_the_choices(web):
    client, _, built = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1002")  # Kwame: care_record only
    r = client.post(
        f"/visit/{vid}/consent",
        data={"csrf": token, "grant": ["care_record", IMAGES], "notice_version": "v1", "language": "en"},
    )
    assert r.status_code == 422 and "together with biometric_identification" in field_error(r.text, "grant")
    with built.database.uow() as uow:
        rows = [r for p in uow.people.in_program("demo") for r in uow.consents.history(p.id) if r.purpose == IMAGES]
    assert rows and not any(r.granted for r in rows)  # recorded as refused at enrollment, never granted


def test_kept_image_shown_in_the_portal_and_withdrawn_there(web):
    client, _, built = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1001")
    r = client.post(
        f"/visit/{vid}/consent",
        data={
            "csrf": token,
            "grant": ["care_record", "biometric_identification", IMAGES, "aggregate_statistics"],
            "notice_version": "v1",
            "language": "en",
            # refused at enrollment: granting it now needs the person's proof (she types her PIN)
            "presence_pin": "246813",
        },
    )
    assert r.status_code == 200, r.text
    finger = (FIXTURES / "finger_a.png").read_bytes()
    r = client.post(
        f"/visit/{vid}/capture",
        data={"csrf": token, "modality": "fingerprint", "position": "right_index"},
        files={"image": ("a.png", finger, "image/png")},
    )
    assert r.status_code == 200 and "Accepted" in r.text
    assert len(images_of(built, "NK1001")) == 1 and finger not in images_of(built, "NK1001")[0].ciphertext

    ptoken = patient_sign_in(client)
    home = client.get("/me").text
    assert "1 fingerprint/eye picture kept" in home
    assert f'id="stop-{IMAGES}"' in client.get("/me/consents").text
    client.post("/me/consents", data={"csrf": ptoken, "purpose": IMAGES})
    assert images_of(built, "NK1001") == []
    assert "picture kept" not in client.get("/me").text
