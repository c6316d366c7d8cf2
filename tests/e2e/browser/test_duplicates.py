"""The duplicate checks in a real browser: a finger already enrolled under another record (confirm the same person,
or override as twins), a name already enrolled, the form moving to the next finger, a recapture asking first,
and two registrars capturing the same finger at the same moment."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.browser.conftest import sign_in
from tests.e2e.browser.test_staff_flows import open_visit

pytestmark = pytest.mark.browser


def finger(tmp_path, name: str, seed: int):
    """A textured image only this test uses (the fake matcher matches identical pixels)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (64, 64), dtype=np.uint8)
    path = tmp_path / f"{name}.png"
    Image.fromarray(pixels).save(path)
    return path


def enroll_new(page, given: str, family: str, card: str, village: str = "Tolon") -> None:
    open_visit(page)
    page.click("#new-person")
    page.fill("#f-given_name", given)
    page.fill("#f-family_name", family)
    page.fill("#f-birth_year", "1984")
    page.select_option("#f-sex", "female")
    page.fill("#f-card_number", card)
    page.fill("#f-village", village)
    for purpose in ("care_record", "biometric_identification"):
        page.check(f"input[name=grant][value={purpose}]")
    page.click("#enroll")


def capture(page, image, position: str = "right_index") -> None:
    page.select_option("#f-modality", "fingerprint")
    page.select_option("#f-position", position)
    page.set_input_files("#f-image", str(image))
    page.click("#upload")


def test_possible_duplicate_confirmed_then_overridden(new_page, tmp_path):
    page = new_page()
    sign_in(page, "registrar")
    enroll_new(page, "Adjoa", "Quaye", "NK6101")
    expect(page.locator("h1")).to_have_text("Adjoa Quaye")
    page.click("#capture")
    expect(page.locator("#f-position")).to_have_value("right_index")
    one, two = finger(tmp_path, "one", 61), finger(tmp_path, "two", 62)
    capture(page, one)
    expect(page.locator("#accepted")).to_contain_text("fingerprint right index")
    expect(page.locator("#f-position")).to_have_value("left_index")  # on to the next finger, not back to the start
    expect(page.locator("#enrolled-biometrics li.yes")).to_have_count(1)
    capture(page, two, "right_index")  # the same finger twice: asked before replacing
    expect(page.locator("#err-position")).to_contain_text("already enrolled")
    page.check("#f-replace")
    page.set_input_files("#f-image", str(two))
    page.click("#upload")
    expect(page.locator("#accepted")).to_contain_text("fingerprint right index")
    page.click("#back-visit")
    expect(page.locator("#enrolled-biometrics li.yes")).to_have_text(["✓ right index"])

    # the same woman enrolled again under another spelling: her finger finds her record
    enroll_new(page, "Adwoa", "Kwaye", "NK6102")
    page.click("#capture")
    capture(page, two)
    expect(page.locator("#possible-duplicate")).to_be_visible()
    expect(page.locator("#possible-duplicate .candidate")).to_contain_text("Adjoa Quaye")
    expect(page.locator("#possible-duplicate .score")).to_contain_text("match 100/100")
    page.click("button.same-person")
    expect(page.locator(".flash")).to_contain_text("already enrolled")
    expect(page.locator("h1")).to_have_text("Adjoa Quaye")

    # her twin: the registrar overrides with the reason
    enroll_new(page, "Adjoa", "Quaye", "NK6103", village="Savelugu")
    page.click("#capture")
    capture(page, two)
    expect(page.locator("#possible-duplicate")).to_be_visible()
    page.select_option("#f-override", "twins")
    page.set_input_files("#f-image", str(two))
    page.click("#upload")
    expect(page.locator("#accepted")).to_contain_text("fingerprint right index")


def test_same_name_birth_year_and_village_asks_first(new_page):
    page = new_page()
    sign_in(page, "registrar")
    enroll_new(page, "Mansa", "Bonsu", "NK6201")
    expect(page.locator("h1")).to_have_text("Mansa Bonsu")
    enroll_new(page, "Mansa", "BONSU", "NK6202")
    expect(page.locator("#possible-duplicate")).to_contain_text("same name, birth year and village")
    expect(page.locator("#duplicates .candidate")).to_have_count(1)
    page.check("#f-confirm_new")
    for purpose in ("care_record", "biometric_identification"):
        page.check(f"input[name=grant][value={purpose}]")
    page.click("#enroll")
    expect(page.locator(".flash")).to_contain_text("Person enrolled")
    enroll_new(page, "Mansa", "Bonsu", "NK6203")
    expect(page.locator("#duplicates .candidate")).to_have_count(2)  # both are shown now
    page.click("#duplicates button.open-existing >> nth=0")
    expect(page.locator(".flash")).to_contain_text("Person confirmed")
    expect(page.locator("h1")).to_have_text(re.compile(r"^Mansa (Bonsu|BONSU)$"))


def test_two_registrars_capture_the_same_finger_at_once(new_page, tmp_path):
    image = finger(tmp_path, "shared", 63)
    pages = []
    for i, card in enumerate(("NK6301", "NK6302")):
        page = new_page()
        sign_in(page, "registrar")
        enroll_new(page, "Abla", f"Racer{i}x", card)
        page.click("#capture")
        page.select_option("#f-modality", "fingerprint")
        page.select_option("#f-position", "right_index")
        page.set_input_files("#f-image", str(image))
        pages.append(page)
    # both forms are ready: start both submissions without waiting, then await both answers
    for page in pages:
        page.evaluate("document.querySelector('#upload').form.requestSubmit()")
    outcomes = []
    for page in pages:
        page.wait_for_load_state()
        page.wait_for_selector("#accepted, #possible-duplicate")
        outcomes.append("accepted" if page.locator("#accepted").count() else "duplicate")
    assert sorted(outcomes) == ["accepted", "duplicate"]
