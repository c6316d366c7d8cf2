"""Patient portal on a phone-sized screen, program manager dashboard, auditor view, in a real browser."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from carekey.domain.consent import Grantor
from carekey.services.consents import ConsentInput
from carekey.services.people import PersonInput
from tests.conftest import PASSWORD
from tests.e2e.browser.conftest import shot, sign_in
from tests.e2e.web_support import BIO, CARE, FIXTURES, STATS

pytestmark = pytest.mark.browser


def enroll_with_fingerprint(live, card: str, pin: str) -> str:  # type: ignore[no-untyped-def]
    s = live.built.services
    registrar = s.auth.login("registrar", PASSWORD).actor
    visit = s.visits.open(registrar, "north")
    view = s.people.enroll(
        registrar,
        visit.id,
        CARE,
        PersonInput("Abla", "Tetteh", "female", 1990, card, district="Northern", village="Kpalsi"),
        ConsentInput.parse([CARE, BIO, STATS], "v1", "en", Grantor()),
        pin=pin,
    )
    s.exams.record(
        s.auth.login("clinician", PASSWORD).actor,
        visit.id,
        CARE,
        view.person.id,
        {"systolic_bp": 132, "diastolic_bp": 84, "weight_kg": 61, "height_cm": 158, "blood_type": "A+"},
    )
    s.biometrics.enroll(
        registrar, visit.id, BIO, view.person.id, "fingerprint", "right_index", (FIXTURES / "finger_b.png").read_bytes()
    )
    s.visits.close(registrar, visit.id)
    return view.person.id


def test_patient_revokes_biometric_consent_and_sees_the_access_log(new_page, live):
    person_id = enroll_with_fingerprint(live, "NK3003", "135792")
    page = new_page(390, 844)
    page.goto("/")
    page.click("text=I am a patient")
    page.fill("#f-card_number", "NK3003")
    page.fill("#f-pin", "0000")
    page.click("#me-sign-in")
    expect(page.locator(".field-error")).to_contain_text("wrong card number or PIN")
    page.fill("#f-pin", "135792")
    page.click("#me-sign-in")
    expect(page.locator("h1")).to_have_text("Abla Tetteh")
    expect(page.locator(".exam-card")).to_contain_text("132/84")
    shot(page, "12-patient-record-phone")
    page.click("text=My choices")
    page.click("#stop-biometric_identification")
    expect(page.locator(".flash")).to_contain_text("Consent withdrawn")
    expect(page.locator("#stop-biometric_identification")).to_have_count(0)
    expect(page.locator("#stop-care_record")).to_be_visible()
    shot(page, "13-patient-choices-phone")
    with live.built.database.uow() as uow:
        assert uow.biometrics.for_person(person_id) == []  # revoking deleted the templates at once
    page.click("#me-access")
    items = page.locator(".access")
    expect(items.first).to_contain_text("You looked at your data")
    expect(page.locator(".access-list")).to_contain_text("You withdrew a consent")
    expect(page.locator(".access-list")).to_contain_text("A fingerprint or iris code was saved")
    expect(page.locator(".access-list")).to_contain_text("An exam was recorded")
    assert items.count() >= 6
    expect(page.locator(".proof-ok")).to_have_count(items.count())  # every access has a checked proof
    expect(page.locator(".proof-bad")).to_have_count(0)
    shot(page, "14-patient-access-log-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"

    # the registrar can no longer find her by fingerprint
    desk = new_page()
    sign_in(desk, "registrar")
    desk.click("#open-visit")
    desk.set_input_files("#f-image", str(FIXTURES / "finger_b.png"))
    desk.check("input[name=agree]")
    desk.click("#find-bio")
    expect(desk.locator("h1")).to_have_text("No match")


def test_manager_picks_a_quarter_releases_reads_on_a_phone_and_downloads(new_page):
    page = new_page(360, 800)
    sign_in(page, "manager")
    expect(page.locator("h1")).to_have_text("Program statistics")
    quarter = page.locator("#f-period option").nth(2).get_attribute("value")  # month, previous month, quarter...
    assert quarter and "Q" in quarter
    page.select_option("#f-show-period", quarter)
    page.click("#show-period")
    before = float(page.locator("#budget-remaining").inner_text())
    page.select_option("#f-view", "hypertension:yes")
    page.select_option("#f-breakdown", "district_sex")
    page.select_option("#f-period", quarter)
    page.fill("#f-epsilon", "0.5")
    page.click("#release")
    charts = page.locator("#release-result svg.chart")
    expect(charts.first.locator("rect.bar")).to_have_count(1)  # the program total
    assert charts.count() >= 2  # the districts, then each district by sex
    bars = page.locator("#release-result rect.bar").count()
    assert page.locator("#release-result line.err").count() == 3 * bars  # an interval on every bar
    assert float(page.locator("#budget-remaining").inner_text()) == pytest.approx(before - 0.5, abs=0.01)
    sizes = page.evaluate("""[...document.querySelectorAll('#release-result svg.chart text')].map(
        t => parseFloat(getComputedStyle(t).fontSize) * t.ownerSVGElement.getScreenCTM().a)""")
    assert sizes and min(sizes) >= 12, f"chart labels render at {min(sizes):.1f} px on a phone"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the dashboard scrolls sideways on a phone ({width}px)"
    expect(page.locator("#past-releases")).to_contain_text("hypertension")
    shot(page, "15-manager-dashboard")
    with page.expect_download() as dl:
        page.click("#dl-csv")
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert text.startswith("program,period,statistic,level") and f",{quarter},hypertension,total," in text
    assert page.locator("text=Ama").count() == 0 and page.locator("text=NK1001").count() == 0


def test_auditor_sees_signed_head_and_verifies(new_page, live):
    token = httpx.post(f"{live.url}/auth/token", json={"username": "clinician", "password": PASSWORD}).json()
    vid = httpx.post(
        f"{live.url}/visits", json={"site_id": "north"}, headers={"Authorization": f"Bearer {token['access_token']}"}
    ).json()["id"]
    r = httpx.post(
        f"{live.url}/visits/{vid}/lookup",
        json={"name": "Ama Mensah", "birth_year": 1980},
        headers={"Authorization": f"Bearer {token['access_token']}", "X-Carekey-Purpose": "watchlist"},
    )
    assert r.status_code == 403
    page = new_page()
    sign_in(page, "auditor")
    expect(page.locator("h1")).to_have_text("Access log audit")
    assert int(page.locator("#sth-size").inner_text()) > 0
    expect(page.locator(".proof-ok").first).to_contain_text("valid (Ed25519)")
    page.click("#verify")
    expect(page.locator("#verify-status")).to_contain_text("Log verified")
    assert int(page.locator("#refused-total").inner_text()) >= 1
    expect(page.locator("table.refusals")).to_contain_text("watchlist")
    shot(page, "16-auditor")
