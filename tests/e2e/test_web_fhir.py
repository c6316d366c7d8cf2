"""FHIR in the web UI: the ehr_sharing tick on the consent screen (EN and FR), a visit closed in the browser
arriving at the clinic's (local, real) FHIR endpoint, the FHIR download in the patient portal."""

from __future__ import annotations

import json
import re

from carekey.fhir import bundles, reading
from tests.e2e.test_web_forms import confirm_card, open_visit
from tests.e2e.test_web_portal import patient_sign_in
from tests.e2e.web_support import sign_in
from tests.fhir_endpoint import running_endpoint


def test_consent_screen_has_its_own_ehr_sharing_tick_in_both_languages(web):
    client, _, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1002")
    en = client.get(f"/visit/{vid}/consent").text
    assert 'value="ehr_sharing"' in en and "Send my results to my clinic&#39;s health record" in en
    fr = client.post(
        f"/visit/{vid}/consent",
        data={"csrf": token, "notice_version": "v1", "language": "fr", "show_language": "fr", "grant": ["care_record"]},
    ).text
    assert "Envoyer mes résultats au dossier médical" in fr


def test_visit_closed_in_the_browser_arrives_at_the_clinic(web, monkeypatch):
    client, _, built = web
    with running_endpoint() as endpoint:
        monkeypatch.setenv("CAREKEY_FHIR_ENDPOINT_NORTH", endpoint.base)
        token = sign_in(client)
        vid = open_visit(client, token)
        confirm_card(client, token, vid, "NK1002")  # Kwame: care_record only until now
        r = client.post(
            f"/visit/{vid}/consent",
            data={
                "csrf": token,
                "notice_version": "v1",
                "language": "en",
                "grant": ["care_record", "ehr_sharing"],
                # refused at enrollment: granting it now needs his proof (he has a PIN: he types it)
                "presence_pin": "246813",
            },
        )
        assert r.status_code == 200
        clinician = sign_in(client, "clinician")
        r = client.post(
            f"/visit/{vid}/exam", data={"csrf": clinician, "systolic_bp": "132", "diastolic_bp": "86", "pulse": "71"}
        )
        assert r.status_code == 200, r.text
        r = client.post(f"/visit/{vid}/close", data={"csrf": clinician}, follow_redirects=False)
        assert r.status_code == 303
        [received] = endpoint.received
    bundle = bundles.parse(received)
    assert bundle.type == "transaction"
    assert {(m["loinc"], m["value"], m["unit"]) for m in reading.measurements(bundle)} == {
        ("8480-6", 132.0, "mm[Hg]"),
        ("8462-4", 86.0, "mm[Hg]"),
        ("8867-4", 71.0, "/min"),
    }
    patient = bundle.entry[0].resource
    assert patient.identifier[1].value == "NK1002" and patient.birthDate == "1975"
    sign_in(client, "admin")
    home = client.get("/").text
    assert re.search(r"<td>north</td><td>0</td><td>1</td><td>0</td><td>0</td>", home)  # counts only
    assert "NK1002" not in home and "Boateng" not in home


def test_patient_downloads_their_fhir_export(web):
    client, _, _ = web
    token = patient_sign_in(client)
    assert 'id="me-export-fhir"' in client.get("/me").text
    r = client.post("/me/export/fhir", data={"csrf": token})
    assert r.status_code == 200 and "fhir.json" in r.headers["content-disposition"]
    bundle = bundles.parse(json.loads(r.text))
    assert bundle.type == "collection" and reading.resource_types(bundle)[0] == "Patient"
    assert client.post("/me/export/fhir", data={"csrf": "0" * 32}).status_code in (400, 403)
