"""Issue 18, "the admin never needs the CLI", in a real browser: an admin creates a program (name, notice
versions, languages) and a site of it, rotates the transparency log's signing key, and an auditor then verifies
the whole log (heads and promises of both keys) from the browser. A bad program code is answered in French."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from carekey.audit.sth import LogSigner
from carekey.services.admin import DEMO_SEED, LOCAL_OPERATOR
from tests.conftest import PASSWORD
from tests.e2e.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser


def test_admin_creates_a_program_rotates_the_log_key_and_the_log_still_verifies(new_page, live):
    page = new_page()
    sign_in(page, "admin")
    page.click("#nav-sites")
    page.fill("#f-program_id", "browser-malaria")
    page.fill("#f-program_name", "Malaria screening")
    page.check("#f-notice-v1")
    page.check("#f-language-en")
    page.uncheck("#f-language-fr")
    page.click("#add-program-button")
    expect(page.locator(".flash")).to_contain_text("Program saved")
    expect(page.locator('tr[data-program="browser-malaria"]')).to_contain_text("Malaria screening")
    page.fill("#f-site_id", "browser-malaria-west")
    page.fill("#f-name", "West clinic")
    page.select_option("#f-program", "browser-malaria")
    page.click("#add-site-button")
    expect(page.locator('tr[data-site="browser-malaria-west"]')).to_contain_text("browser-malaria")
    shot(page, "24-admin-programs")

    page.click("#nav-keys")
    old = page.locator("#log-public-key").inner_text()
    page.click("#rotate-log")  # without the box ticked: refused, nothing rotated
    expect(page.locator("#keys-error")).to_contain_text("tick the box")
    expect(page.locator("#log-public-key")).to_have_text(old)
    page.check("#f-confirm-log")
    page.click("#rotate-log")
    expect(page.locator("#log-key-rotated")).to_be_visible()
    new = page.locator("#log-public-key").inner_text()
    assert new != old and len(new) == 64
    settings = live.built.settings
    assert LogSigner.load(settings.resolved_log_key_file()).public_key.hex() == new
    shot(page, "25-admin-log-key")

    page.goto("/transparency")
    expect(page.locator('#admin-actions td[data-action="log_key_rotate"]')).to_have_text("log signing key rotated")
    expect(page.locator('#admin-actions td[data-action="admin_create_program"]')).to_have_text("program created")

    auditor = new_page()
    sign_in(auditor, "auditor")
    expect(auditor.locator(".proof-ok").first).to_contain_text("valid (Ed25519)")
    auditor.click("#verify")
    expect(auditor.locator("#verify-status")).to_contain_text("Log verified")


@pytest.fixture(scope="module")
def french_admin(live):
    """An admin of their own: the language switch is remembered per account, other tests keep English."""
    admin = live.built.services.admin
    admin.add_user(LOCAL_OPERATOR, "admin-fr", "admin", PASSWORD)
    admin.approve_user(DEMO_SEED, "admin-fr")
    return "admin-fr"


def test_a_bad_program_code_is_refused_in_french(new_page, french_admin):
    page = new_page()
    sign_in(page, french_admin)
    page.click("#lang-fr")
    page.goto("/admin/sites")
    expect(page.locator("h1")).to_have_text("Programmes et sites")
    page.fill("#f-program_id", "Pas Bon!")
    page.fill("#f-program_name", "X")
    page.click("#add-program-button")
    expect(page.locator("#sites-error")).to_contain_text("le code du programme : 1 à 40 lettres minuscules")
    expect(page.locator("#f-program_id")).to_have_value("Pas Bon!")
