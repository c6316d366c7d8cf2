"""A visit closed in a real browser, with ehr_sharing ticked at enrollment, arrives at the clinic's FHIR endpoint
(a local ASGI server started by the test) as a valid R4 transaction Bundle."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from carekey.fhir import bundles, reading
from tests.e2e.browser.conftest import sign_in
from tests.e2e.browser.test_staff_flows import open_visit
from tests.fhir_endpoint import running_endpoint

pytestmark = pytest.mark.browser


def test_visit_closed_in_the_browser_is_pushed(new_page, monkeypatch):
    with running_endpoint() as endpoint:
        monkeypatch.setenv("CAREKEY_FHIR_ENDPOINT_NORTH", endpoint.base)  # the live server runs in this process
        page = new_page()
        sign_in(page, "registrar")
        open_visit(page)
        page.click("#new-person")
        page.fill("#f-given_name", "Adjoa")
        page.fill("#f-family_name", "Quaye")
        page.fill("#f-birth_year", "1988")
        page.select_option("#f-sex", "female")
        page.fill("#f-card_number", "NK7070")
        expect(page.locator("input[name=grant][value=ehr_sharing]")).not_to_be_checked()  # never pre-ticked
        for purpose in ("care_record", "ehr_sharing"):
            page.check(f"input[name=grant][value={purpose}]")
        page.click("#enroll")
        expect(page.locator(".flash")).to_contain_text("Person enrolled")
        code = page.locator(".visit-head .code").inner_text()
        clinician = new_page()
        sign_in(clinician, "clinician")
        clinician.click(f"text=Open {code}")
        clinician.click("#record-exam")
        clinician.fill("#f-systolic_bp", "141")
        clinician.fill("#f-diastolic_bp", "91")
        clinician.fill("#f-pulse", "77")
        clinician.click("#save-exam")
        expect(clinician.locator(".flash")).to_contain_text("Exam recorded")
        clinician.click("#close-visit")
        expect(clinician.locator(".flash")).to_contain_text("Visit closed")
        [received] = endpoint.received
    bundle = bundles.parse(received)
    assert bundle.type == "transaction"
    assert reading.resource_types(bundle) == [
        "Patient",
        "Location",
        "Encounter",
        "Observation",
        "Observation",
        "Consent",
    ]
    assert {(m["loinc"], m["value"], m["unit"]) for m in reading.measurements(bundle)} == {
        ("8480-6", 141.0, "mm[Hg]"),
        ("8462-4", 91.0, "mm[Hg]"),
        ("8867-4", 77.0, "/min"),
    }
    assert bundle.entry[0].resource.identifier[1].value == "NK7070"
