"""The errors a health worker meets in a normal day, shown in French (issue 18): the services and the domain raise
English messages (for the log, the API and the CLI) that keep their template (``carekey.errors.msg``) or are
extracted where they are raised, and the web UI shows them in the reader's language (``i18n.say``)."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient

from tests.e2e.test_web_forms import confirm_card, field_error, open_visit
from tests.e2e.web_support import FIXTURES, sign_in

SECOND = {"approver_username": "clinician", "approver_password": "wrong password!"}


def _fr(app) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    client.cookies.set("carekey_lang", "fr")
    return client


def _alert(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_registrars_and_a_clinicians_errors_are_in_french(web):
    _, app, _ = web
    reg = _fr(app)
    token = sign_in(reg)
    vid = open_visit(reg, token)
    base = {
        "csrf": token,
        "notice_version": "v1",
        "language": "fr",
        "given_name": "Yaw",
        "family_name": "Darko",
        "sex": "male",
        "birth_year": "1990",
        "card_number": "NK1001",
        "grant": ["care_record"],
    }
    # duplicate person (the card is already enrolled)
    r = reg.post(f"/visit/{vid}/enroll", data=base)
    assert r.status_code == 409
    assert field_error(r.text, "card_number").startswith("une personne avec ce numéro de carte est déjà inscrite")
    # consent missing: nothing is stored without care_record
    r = reg.post(f"/visit/{vid}/enroll", data=base | {"card_number": "NK7001", "grant": []})
    assert r.status_code == 403 and "rien n&#39;est conservé sur la personne" in field_error(r.text, "grant")
    # validation: a child without a guardian, a birth year out of range
    child = base | {"card_number": "NK7002", "birth_year": str(date.today().year - 8)}
    r = reg.post(f"/visit/{vid}/enroll", data=child)
    assert "pour un enfant de moins de 12 ans, un tuteur" in field_error(r.text, "guardian_name")
    r = reg.post(f"/visit/{vid}/enroll", data=base | {"card_number": "NK7003", "birth_year": "1800"})
    assert "l&#39;année de naissance 1800 doit être comprise entre" in field_error(r.text, "birth_year")

    # the visit binds to Ama; she refused nothing but has no PIN: proof of presence is asked, in French
    confirm_card(reg, token, vid, "NK1001")
    r = reg.post(f"/visit/{vid}/pin", data={"csrf": token, "pin": "975310"})
    assert r.status_code == 403
    assert "pour définir ou réinitialiser le code PIN du portail de la personne, la personne doit prouver" in _alert(
        r.text
    )
    r = reg.post(f"/visit/{vid}/pin", data={"csrf": token, "pin": "12"})
    assert r.status_code == 422 and "un code PIN a de 6 à 8 chiffres" in _alert(r.text)
    # visit already bound: looking up someone else in it
    r = reg.post(f"/visit/{vid}/lookup", data={"csrf": token, "by": "card", "card_number": "NK1002"})
    assert r.status_code == 403 and "cette visite sert déjà une personne" in _alert(r.text)

    # the clinician: an exam value out of range, localized (decimal comma)
    clin = _fr(app)
    ctoken = sign_in(clin, "clinician")
    r = clin.post(f"/visit/{vid}/exam", data={"csrf": ctoken, "systolic_bp": "900", "diastolic_bp": "85"})
    assert r.status_code == 422
    assert field_error(r.text, "systolic_bp") == (
        "Pression artérielle systolique 900 mm[Hg] est hors de la plage plausible 50-260 mm[Hg]"
    )
    r = clin.post(f"/visit/{vid}/exam", data={"csrf": ctoken, "glucose_mmol_l": "45,5"})
    assert "Glucose sanguin [moles/volume] 45,5 mmol/L est hors de la plage plausible 1-40 mmol/L" in _alert(r.text)

    # not found: a visit of another site
    south = _fr(app)
    sign_in(south, "registrar-south")
    r = south.get(f"/visit/{vid}")
    assert r.status_code == 404 and f"aucune visite {vid} sur vos sites" in _alert(r.text)

    # consent missing for a purpose: Kwame never agreed to biometric identification
    other = open_visit(reg, token)
    confirm_card(reg, token, other, "NK1002")
    r = reg.post(
        f"/visit/{other}/capture",
        data={"csrf": token, "modality": "fingerprint", "position": "right_index"},
        files={"image": ("a.png", (FIXTURES / "finger_a.png").read_bytes(), "image/png")},
    )
    assert r.status_code == 403 and "n&#39;a pas donné (ou a retiré) son consentement pour" in r.text
    # a wrong second-staff approval: the proof is refused, in French
    r = reg.post(f"/visit/{other}/pin", data={"csrf": token, "pin": "975310"} | SECOND)
    assert r.status_code == 403 and "la personne doit prouver sa présence" in _alert(r.text)


def test_the_log_keeps_the_english_reason_whatever_the_readers_language(web):
    _, app, built = web
    reg = _fr(app)
    token = sign_in(reg)
    vid = open_visit(reg, token)
    confirm_card(reg, token, vid, "NK1001")
    r = reg.post(f"/visit/{vid}/lookup", data={"csrf": token, "by": "card", "card_number": "NK1002"})
    assert r.status_code == 403 and "cette visite sert déjà une personne" in _alert(r.text)
    built.services.transparency.integrate()
    with built.services.deps.uow() as uow:
        denied = [
            e.event.reason for e in uow.access_log.entries(0, uow.access_log.size()) if e.event.outcome == "denied"
        ]
    assert any(r.startswith("this visit already serves a person") for r in denied), denied
    assert not any("cette visite" in r for r in denied)
