"""Referrals (issue 18): the clinician records one in the visit (sealed, logged); the site's follow-up list shows it
to clinicians of that site only, as person and visit codes (no name, reason or place); a clinician closes it; the
person sees it in the portal and sees that they were listed."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from carekey.services.patients import Patient
from tests.e2e.test_web_forms import confirm_card, open_visit
from tests.e2e.test_web_portal import patient_sign_in
from tests.e2e.web_support import sign_in

WHERE, WHY = "Tamale Teaching Hospital", "BP 148/92 twice: confirm and treat"


def _refer(client: TestClient, app) -> tuple[TestClient, str, str, str]:  # type: ignore[no-untyped-def]
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1001")
    clin = TestClient(app)
    ctoken = sign_in(clin, "clinician")
    r = clin.post(f"/visit/{vid}/referral", data={"csrf": ctoken, "to_where": WHERE, "reason": WHY, "urgency": "soon"})
    assert r.status_code == 200 and "Referral recorded" in r.text, r.text
    assert WHERE in r.text and WHY in r.text and "soon (within days)" in r.text
    person_id = re.search(r'<span class="code">(CK-[^<]+)</span>', r.text).group(1)  # the record id shown
    return clin, ctoken, vid, person_id


def test_referral_is_listed_for_clinicians_of_its_site_only_as_codes_and_closed(web):
    client, app, built = web
    clin, ctoken, vid, person_id = _refer(client, app)
    listing = clin.get("/followup").text
    row = re.search(r'<tr data-referral="([^"]+)">(.*?)</tr>', listing, re.S)
    assert row, listing
    referral_id, cells = row.group(1), row.group(2)
    assert person_id in cells and vid[-6:].upper() in cells
    for secret in ("Ama", "Mensah", "NK1001", WHERE, WHY, "Gumani"):
        assert secret not in listing, secret  # codes only: no name, card, place or reason

    with TestClient(app) as south:  # a clinician of another site
        sign_in(south, "clinician-south")
        assert south.get("/followup?site=north").status_code == 403
        assert person_id not in south.get("/followup").text
        r = south.post(
            f"/followup/{referral_id}/close", data={"csrf": sign_in(south, "clinician-south"), "closed_as": "seen"}
        )
        assert r.status_code == 403
    for other in ("registrar", "manager", "admin"):
        with TestClient(app) as c:
            sign_in(c, other)
            assert c.get("/followup").status_code == 403, other

    r = clin.post(f"/followup/{referral_id}/close", data={"csrf": ctoken, "closed_as": "seen", "site": "north"})
    assert r.status_code == 200 and "Referral closed" in r.text
    assert 'id="followup-empty"' in r.text and person_id not in r.text
    r = clin.post(f"/followup/{referral_id}/close", data={"csrf": ctoken, "closed_as": "seen"})
    assert r.status_code == 409  # closed once only

    views = built.services.patients.accesses(Patient(person_id))
    actions = [(v.event["action"], v.event["outcome"]) for v in views]
    assert ("record_referral", "granted") in actions and ("followup_list_result", "granted") in actions
    assert ("close_referral", "granted") in actions
    assert ("close_referral", "denied") in actions  # the other site's attempt is in the person's log too


def test_the_person_sees_the_referral_in_the_portal_and_the_clinician_closes_it_in_the_visit(web):
    client, app, built = web
    clin, ctoken, vid, _ = _refer(client, app)
    me = TestClient(app)
    patient_sign_in(me)
    page = me.get("/me").text
    assert 'id="me-referrals"' in page and WHERE in page and WHY in page and "Still open" in page
    assert WHERE not in clin.get(f"/visit/{vid}/slip").text  # printed only when the person agrees
    slip = clin.get(f"/visit/{vid}/slip?advice=1").text
    assert 'class="slip-referral"' in slip and WHERE in slip and WHY not in slip  # where and how soon, not why
    referral_id = re.search(r'data-referral="([^"]+)"', clin.get(f"/visit/{vid}").text).group(1)
    r = clin.post(f"/visit/{vid}/referral/{referral_id}/close", data={"csrf": ctoken, "closed_as": "declined"})
    assert r.status_code == 200 and "the person declined" in r.text
    assert "Closed" in me.get("/me").text and "Still open" not in me.get("/me").text
    export = built.services.patients.export(Patient(re.search(r"CK-[\w-]+", r.text).group(0)))
    assert export["referrals"][0]["to_where"] == WHERE and export["referrals"][0]["closed_as"] == "declined"


def test_a_referral_needs_where_and_why_and_a_registrar_cannot_refer(web):
    client, app, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1001")
    r = client.post(f"/visit/{vid}/referral", data={"csrf": token, "to_where": WHERE, "reason": WHY})
    assert r.status_code == 403
    clin = TestClient(app)
    ctoken = sign_in(clin, "clinician")
    r = clin.post(f"/visit/{vid}/referral", data={"csrf": ctoken, "to_where": " ", "reason": WHY})
    assert r.status_code == 422 and "say where the person is referred to" in r.text
    r = clin.post(
        f"/visit/{vid}/referral", data={"csrf": ctoken, "to_where": WHERE, "reason": WHY, "urgency": "whenever"}
    )
    assert r.status_code == 422 and "urgency must be one of" in r.text
