"""Refused and denied requests are shown clearly in the browser, logged, and counted publicly."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from carekey.domain.consent import Grantor
from tests.conftest import PASSWORD
from tests.e2e.browser.conftest import shot, sign_in
from tests.e2e.web_support import BIO, CARE, FIXTURES

pytestmark = pytest.mark.browser


def test_refused_purpose_is_counted_on_the_public_page(new_page, live):
    token = httpx.post(f"{live.url}/auth/token", json={"username": "registrar", "password": PASSWORD}).json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    vid = httpx.post(f"{live.url}/visits", json={"site_id": "north"}, headers=auth).json()["id"]
    r = httpx.post(
        f"{live.url}/visits/{vid}/lookup",
        json={"card_number": "NK1001"},
        headers=auth | {"X-Carekey-Purpose": "law_enforcement"},
    )
    assert r.status_code == 403
    page = new_page()
    page.goto("/transparency")
    expect(page.locator("table.refusals")).to_contain_text("law enforcement")
    assert int(page.locator("#refused-total").inner_text()) >= 1
    shot(page, "10-transparency")


def test_capture_after_withdrawal_is_refused_clearly(new_page, live):
    page = new_page()
    sign_in(page, "registrar")
    page.click("#open-visit")
    page.fill("#f-card_number", "NK1001")
    page.click("#find-card")
    page.click("text=This is the person")
    expect(page.locator("h1")).to_have_text("Ama Mensah")
    page.click("#capture")
    # meanwhile the person withdraws biometric consent (at another desk, or in the patient portal)
    s = live.built.services
    actor = s.auth.authenticate(next(c["value"] for c in page.context.cookies() if c["name"] == "ck_staff"))
    vid = page.url.split("/visit/")[1].split("/")[0]
    person_id = s.visits.get(actor, vid).person_id
    s.consents.decide(actor, vid, CARE, person_id, BIO, False, "v1", "en", Grantor())
    page.set_input_files("#f-image", str(FIXTURES / "finger_b.png"))
    page.click("#upload")
    expect(page.locator(".refused h1")).to_have_text("Consent missing")
    expect(page.locator(".refused")).to_contain_text("revoked")
    expect(page.locator(".refused")).to_contain_text("recorded in the access log")
    expect(page.locator("#back")).to_have_text("Back to the visit")
    shot(page, "11-refused")
    with live.built.database.uow() as uow:
        events = [e.event for e in uow.access_log.for_person(person_id)]
    assert events[-1].action == "enroll_biometric" and events[-1].outcome == "denied"
    page.goto(f"/visit/{vid}")
    expect(page.locator(".consents")).to_contain_text("✗ biometric identification")
