"""Registrar and clinician in a real browser: a visit with biometrics, one without, a minor with a guardian."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from carekey.domain.person import likely_age
from tests.e2e.browser.conftest import shot, sign_in
from tests.e2e.web_support import FIXTURES

pytestmark = pytest.mark.browser


def open_visit(page) -> str:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.click("#open-visit")
    expect(page.locator("h1")).to_have_text("Who is this person?")
    return page.locator(".visit-head .code").inner_text()


def test_complete_visit_with_biometrics(new_page):
    page = new_page()
    sign_in(page, "registrar")
    shot(page, "01-registrar-home")
    open_visit(page)
    shot(page, "02-identify")
    page.click("#new-person")
    page.fill("#f-given_name", "Efua")
    page.fill("#f-family_name", "Owusu")
    page.fill("#f-birth_year", "1972")
    page.select_option("#f-sex", "female")
    page.fill("#f-card_number", "NK4242")
    page.fill("#f-village", "Gumani")
    for purpose in ("care_record", "biometric_identification", "aggregate_statistics"):
        page.check(f"input[name=grant][value={purpose}]")
    expect(page.locator("#guardian")).to_be_hidden()  # an adult signs alone
    shot(page, "03-consent-enroll")
    page.click("#enroll")
    expect(page.locator(".flash")).to_contain_text("Person enrolled")
    expect(page.locator("h1")).to_have_text("Efua Owusu")
    shot(page, "04-registrar-visit")

    page.click("#capture")
    page.select_option("#f-modality", "iris")
    expect(page.locator("#f-position")).to_have_value("right_eye")  # only the eyes are offered for iris
    page.select_option("#f-modality", "fingerprint")
    page.select_option("#f-position", "right_index")
    page.set_input_files("#f-image", str(FIXTURES / "blank.png"))
    page.click("#upload")
    expect(page.locator("#err-image")).to_contain_text("blank")  # quality feedback, then recapture
    expect(page.locator("#upload")).to_have_text("Capture again")
    shot(page, "05-capture-rejected")
    page.set_input_files("#f-image", str(FIXTURES / "finger_a.png"))
    page.click("#upload")
    expect(page.locator("#accepted")).to_contain_text("fingerprint right index")
    page.click("#back-visit")
    page.click("#close-visit")
    expect(page.locator(".flash")).to_contain_text("Visit closed")

    # next year: the same finger finds the record, the registrar confirms
    open_visit(page)
    page.set_input_files("#f-image", str(FIXTURES / "finger_b.png"))
    page.check("input[name=agree]")
    page.click("#find-bio")
    expect(page.locator("h1")).to_have_text("No match")
    page.click("text=Search again")
    page.set_input_files("#f-image", str(FIXTURES / "finger_a.png"))
    page.click("#find-bio")
    expect(page.locator("#err-agree")).to_be_visible()  # the person's agreement is asked every time
    page.set_input_files("#f-image", str(FIXTURES / "finger_a.png"))
    page.check("input[name=agree]")
    page.click("#find-bio")
    expect(page.locator(".candidate")).to_have_count(1)
    expect(page.locator(".candidate")).to_contain_text("Efua Owusu")
    shot(page, "06-candidates")
    page.click("text=This is the person")
    expect(page.locator(".flash")).to_contain_text("Person confirmed")
    code = page.locator(".visit-head .code").inner_text()

    clinician = new_page()
    sign_in(clinician, "clinician")
    clinician.click(f"text=Open {code}")
    expect(clinician.locator("h1")).to_have_text("Efua Owusu")
    clinician.click("#record-exam")
    expect(clinician.locator("#f-systolic_bp")).to_have_attribute("max", "260")
    clinician.fill("#f-systolic_bp", "120")
    clinician.fill("#f-diastolic_bp", "130")
    clinician.fill("#f-height_cm", "160")
    clinician.fill("#f-weight_kg", "74")
    clinician.select_option("#f-blood_type", "O+")
    clinician.click("#save-exam")
    expect(clinician.locator("#err-diastolic_bp")).to_contain_text("lower than systolic")
    expect(clinician.locator("#f-height_cm")).to_have_value("160")
    shot(clinician, "07-exam-error")
    clinician.fill("#f-systolic_bp", "148")
    clinician.fill("#f-diastolic_bp", "92")
    clinician.click("#save-exam")
    expect(clinician.locator(".flash")).to_contain_text("Exam recorded")
    expect(clinician.locator("table.exams")).to_contain_text("148/92 mmHg")
    expect(clinician.locator("table.exams")).to_contain_text("28.9")  # BMI derived by the domain
    shot(clinician, "08-clinician-visit")
    clinician.click("#close-visit")
    expect(clinician.locator(".flash")).to_contain_text("Visit closed")
    assert not re.search(r"Efua|Owusu|NK4242", clinician.url + page.url)


def test_visit_without_biometrics(new_page):
    page = new_page()
    sign_in(page, "registrar")
    open_visit(page)
    page.fill("#f-card_number", "ZZ9999")
    page.click("#find-card")
    expect(page.locator("h1")).to_have_text("No match")
    page.click("text=Search again")
    page.fill("#f-name", "Kwame Botaeng")  # a typo: the fuzzy name match still finds him
    page.fill("#f-birth_year", "1976")
    page.click("#find-name")
    expect(page.locator(".candidate")).to_have_count(1)
    expect(page.locator(".candidate")).to_contain_text("Kwame Boateng")
    expect(page.locator(".candidate")).not_to_contain_text("NK1002")  # the minimum needed to confirm
    page.click("text=This is the person")
    expect(page.locator("h1")).to_have_text("Kwame Boateng")
    expect(page.locator("#capture")).to_have_count(0)  # no biometric consent: no capture offered
    page.click("#close-visit")
    expect(page.locator(".flash")).to_contain_text("Visit closed")
    assert "Kwame" not in page.url and "1976" not in page.url


def test_minor_with_guardian_and_notice_in_french(new_page):
    page = new_page(390, 844)  # a phone-sized screen
    sign_in(page, "registrar")
    open_visit(page)
    page.click("#new-person")
    page.fill("#f-given_name", "Kofi")
    page.fill("#f-family_name", "Asante")
    page.fill("#f-birth_year", str(date.today().year - 15))  # 14 by the birth-year rule
    page.fill("#f-card_number", "NK5151")
    page.click("button[name=show_language][value=fr]")
    expect(page.locator(".notice h2")).to_have_text("Votre bilan de santé et vos données")
    expect(page.locator("#f-given_name")).to_have_value("Kofi")  # switching language keeps what was typed
    expect(page.locator("#guardian")).to_be_visible()
    expect(page.locator("#guardian .rule-minor")).to_be_visible()
    expect(page.locator("#guardian .rule-child")).to_be_hidden()
    page.check("input[name=grant][value=care_record]")
    page.click("#enroll")
    expect(page.locator("#err-guardian_name")).to_contain_text("12-17")
    expect(page.locator(".notice h2")).to_have_text("Votre bilan de santé et vos données")
    page.fill("#f-guardian_name", "Abena Asante")
    page.fill("#f-guardian_relation", "mother")
    shot(page, "09-minor-guardian-fr-phone")
    page.click("#enroll")
    expect(page.locator(".flash")).to_contain_text("Person enrolled")
    # shown as the likelier age (14 or 15 by the date); the consent rules above used the lower bound, 14
    expect(page.locator(".facts")).to_contain_text(f"about {likely_age(date.today().year - 15, date.today())} ")
    page.click("#close-visit")
