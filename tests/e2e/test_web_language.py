"""The UI's language (issue 18): from Accept-Language before sign-in, the switch on every page (a cookie, and the
staff member's account setting), the person's notice language in the portal; dates and numbers localized."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from carekey.domain.consent import Grantor
from carekey.interfaces.web.i18n import LANG_COOKIE
from carekey.services.consents import ConsentInput
from carekey.services.people import PersonInput
from tests.conftest import PASSWORD
from tests.e2e.test_web_followup import record_exam
from tests.e2e.test_web_portal import patient_sign_in
from tests.e2e.web_support import csrf_of, sign_in


def test_before_sign_in_the_browser_language_is_used(web):
    _, app, _ = web
    with TestClient(app) as c:
        fr = c.get("/login", headers={"Accept-Language": "de-DE, fr;q=0.8, en;q=0.5"}).text
        assert '<html lang="fr">' in fr and "Se connecter" in fr and "Sign in" not in fr
        en = c.get("/login", headers={"Accept-Language": "de-DE"}).text
        assert '<html lang="en">' in en and "Sign in" in en
        assert 'id="lang-fr"' in en and 'id="lang-en"' in en  # the switch


def test_the_switch_sets_the_language_and_returns_to_the_same_page(web):
    _, app, _ = web
    with TestClient(app) as c:
        token = csrf_of(c.get("/me/login").text)
        r = c.post("/language", data={"csrf": token, "lang": "fr", "next": "/me/login"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/me/login"
        assert c.cookies.get(LANG_COOKIE) == "fr"
        page = c.get("/me/login", headers={"Accept-Language": "en"}).text  # the choice beats the browser's
        assert '<html lang="fr">' in page and "Numéro de carte" in page
        r = c.post("/language", data={"csrf": token, "lang": "en", "next": "//evil.example/x"}, follow_redirects=False)
        assert r.headers["location"] == "/"  # only paths of this site
        assert c.post("/language", data={"lang": "fr", "next": "/"}).status_code == 403  # CSRF as every form


def test_a_staff_members_language_is_an_account_setting(web):
    _, app, built = web
    with TestClient(app) as c:
        token = sign_in(c, "clinician")
        c.post("/language", data={"csrf": token, "lang": "fr", "next": "/"})
    with TestClient(app) as other_device:  # no cookie: the account's setting applies at sign-in
        sign_in(other_device, "clinician")
        page = other_device.get("/", headers={"Accept-Language": "en"}).text
        assert '<html lang="fr">' in page and "Visites ouvertes sur votre site" in page and "Suivi" in page
    with TestClient(app) as registrar:
        sign_in(registrar)
        assert "Open visits at your site" in registrar.get("/").text  # the others keep theirs


def test_the_portal_speaks_the_persons_notice_language_with_localized_dates_and_numbers(web):
    client, app, built = web
    built.services.deps.clock.now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    svc, world_registrar = built.services, built.services.auth.login("registrar", PASSWORD).actor
    visit = svc.visits.open(world_registrar, "north")
    svc.people.enroll(
        world_registrar,
        visit.id,
        "care_record",
        PersonInput("Awa", "Diallo", "female", 1984, "NK2001", district="Northern", village="Gumani"),
        ConsentInput.parse(["care_record"], "v1", "fr", Grantor()),
        pin="135792",
    )
    svc.visits.close(world_registrar, visit.id)
    with TestClient(app) as me:
        patient_sign_in(me, "NK2001", "135792")
        page = me.get("/me", headers={"Accept-Language": "en"}).text
        assert '<html lang="fr">' in page and "Mon dossier de santé" in page and "environ 42" in page
        assert "29 novembre 2026" in page  # registered on, in French

    record_exam(client, systolic_bp="148", diastolic_bp="92", glucose_mmol_l="7.1", glucose_fasting="yes")
    with TestClient(app) as ama:
        ama.cookies.set(LANG_COOKIE, "fr")
        patient_sign_in(ama)  # her notice was English, but this browser chose French: the choice stays
        page = ama.get("/me").text
        assert "La tension est élevée (hypertension de grade 1)" in page
        assert "<strong>7,1</strong>" in page and "29 décembre 2026" in page  # next check-up in a month
