"""Follow-up flags and notes in the web UI: the clinician's visit page and the person's portal."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from tests.e2e.test_web_forms import confirm_card, open_visit
from tests.e2e.test_web_portal import patient_sign_in
from tests.e2e.web_support import sign_in

NOTE = "Advised less salt; <b>recheck</b> in a month"


def record_exam(client: TestClient, **values: str) -> tuple[TestClient, str]:
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1001")
    clin = TestClient(client.app)
    ctoken = sign_in(clin, "clinician")
    r = clin.post(f"/visit/{vid}/exam", data={"csrf": ctoken, **values})
    assert "Exam recorded" in r.text, r.text
    return clin, vid


def test_clinician_sees_flags_in_plain_words_notes_and_the_next_checkup(web):
    client, _, built = web
    built.services.deps.clock.now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    clin, vid = record_exam(
        client,
        systolic_bp="148",
        diastolic_bp="92",
        glucose_mmol_l="7.1",
        glucose_fasting="yes",
        hemoglobin_g_dl="12.5",
        notes=NOTE,
    )
    page = clin.get(f"/visit/{vid}").text
    assert "grade 1 hypertension" in page and "Blood pressure is high" in page
    assert "diabetes range (fasting)" in page and "Blood sugar is in the diabetes range" in page
    assert "Hemoglobin is normal" in page  # Ama: female, 12.5 g/dL is over the women's 12.0
    assert 'id="next-checkup">2026-12-29<' in page  # a refer flag: one month
    assert "Advised less salt; &lt;b&gt;recheck&lt;/b&gt; in a month" in page  # shown, escaped
    assert "about 46" in page  # born 1980, birth year only, late in the year


def test_the_person_sees_the_meaning_and_the_notes_in_the_portal(web):
    client, app, built = web
    built.services.deps.clock.now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    record_exam(client, systolic_bp="120", diastolic_bp="78", hemoglobin_g_dl="10.5", notes=NOTE)
    me = TestClient(app)
    patient_sign_in(me)
    page = me.get("/me").text
    assert "Hemoglobin is low (moderate anemia)" in page and "Blood pressure is normal." in page
    assert "Notes from the health worker" in page and "Advised less salt" in page
    assert 'id="me-next-checkup">29 December 2026<' in page


def test_exam_without_a_record_shows_its_flags_read_as_an_adult(web):
    client, _, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    r = client.post(f"/visit/{vid}/screening", data={"csrf": token, "systolic_bp": "182", "diastolic_bp": "95"})
    assert r.status_code == 200 and "grade 3 hypertension" in r.text and "see a doctor today" in r.text
