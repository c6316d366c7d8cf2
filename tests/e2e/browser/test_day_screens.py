"""Issue 18 in a real browser: the admin's screens (an account created by one admin and approved by a second one,
a site, the keys page), the clinician's referral and follow-up list, and the language switch."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from carekey.services.admin import DEMO_SEED, LOCAL_OPERATOR
from tests.conftest import PASSWORD
from tests.e2e.browser.conftest import shot, sign_in
from tests.e2e.browser.test_staff_flows import open_visit

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def second_admin(live):
    admin = live.built.services.admin
    admin.add_user(LOCAL_OPERATOR, "admin-two", "admin", PASSWORD)
    admin.approve_user(DEMO_SEED, "admin-two")
    return "admin-two"


def test_an_account_made_by_one_admin_is_approved_by_a_second_one(new_page, second_admin):
    page = new_page()
    sign_in(page, "admin")
    page.click("#nav-accounts")
    page.fill("#f-username", "nurse-b")
    page.fill("#f-display", "Nurse B")
    page.select_option("#f-role", "clinician")
    page.check("#add-account input[name=site][value=north]")
    page.fill("#f-password", "a long password!")
    page.click("#add-account-button")
    row = page.locator('tr[data-username="nurse-b"]')
    expect(row.locator(".state")).to_contain_text("awaiting approval")
    page.click("#approve-nurse-b")
    expect(page.locator("#accounts-error")).to_contain_text("someone other than who created")
    shot(page, "20-admin-accounts")

    other = new_page()
    sign_in(other, second_admin)
    other.goto("/accounts")
    other.click("#approve-nurse-b")
    expect(other.locator(".flash")).to_contain_text("Account saved")
    expect(other.locator('tr[data-username="nurse-b"] .state')).to_have_text("approved")
    other.click("#deactivate-nurse-b")
    expect(other.locator('tr[data-username="nurse-b"] .state')).to_have_text("deactivated")


def test_admin_adds_a_site_and_sees_the_keys(new_page):
    page = new_page()
    sign_in(page, "admin")
    page.click("#nav-sites")
    page.fill("#f-site_id", "browser-east")
    page.fill("#f-name", "East market")
    page.fill("#f-district", "Eastern")
    page.click("#add-site-button")
    expect(page.locator(".flash")).to_contain_text("Site saved")
    expect(page.locator('tr[data-site="browser-east"]')).to_contain_text("East market")
    page.click("#nav-keys")
    expect(page.locator("#key-version")).not_to_be_empty()
    page.click("#rotate-biometric")  # without the confirmation box: refused, nothing rotated
    expect(page.locator("#keys-error")).to_contain_text("tick the box")
    shot(page, "21-admin-keys")


def test_referral_then_follow_up_list_as_codes_then_closed(new_page):
    reg = new_page()
    sign_in(reg, "registrar")
    code = open_visit(reg)
    reg.fill("#f-card_number", "NK1002")
    reg.click("#find-card")
    reg.locator("button:has-text('This is the person')").first.click()
    expect(reg.locator("h1")).to_have_text("Kwame Boateng")

    clin = new_page()
    sign_in(clin, "clinician")
    clin.goto("/")
    clin.click(f"a:has-text('Open {code}')")
    clin.fill("#f-to_where", "District hospital")
    clin.fill("#f-reason", "Blood sugar 12.0 after eating")
    clin.select_option("#f-urgency", "urgent")
    clin.click("#save-referral")
    expect(clin.locator(".flash")).to_contain_text("Referral recorded")
    expect(clin.locator("#referrals")).to_contain_text("District hospital")
    clin.click("#nav-followup")
    row = clin.locator("#followup tbody tr", has_text=code)
    expect(row).to_have_count(1)
    expect(clin.locator("#followup")).not_to_contain_text("Kwame")
    shot(clin, "22-followup")
    row.locator("select[name=closed_as]").select_option("seen")
    row.locator("button").click()
    expect(clin.locator(".flash")).to_contain_text("Referral closed")
    expect(clin.locator("#followup tbody tr", has_text=code)).to_have_count(0)
    reg.click("#close-visit")
    expect(reg.locator(".flash")).to_contain_text("Visit closed")


def test_the_language_switch_on_every_page(new_page, second_admin):
    page = new_page()
    page.goto("/login")
    page.click("#lang-fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("button:has-text('Se connecter')")).to_be_visible()
    page.fill("#f-username", second_admin)
    page.fill("#f-password", PASSWORD)
    page.click("button:has-text('Se connecter')")
    expect(page.locator("#nav-accounts")).to_have_text("Comptes")
    page.click("#nav-sites")
    expect(page.locator("h1")).to_have_text("Programmes et sites")
    shot(page, "23-admin-sites-fr")
    page.click("#lang-en")
    expect(page.locator("h1")).to_have_text("Programs and sites")
    expect(page.locator("html")).to_have_attribute("lang", "en")
