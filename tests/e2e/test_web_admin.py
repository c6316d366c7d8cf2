"""The admin's sites and keys screens (issue 18): the same service, policy and logging as the CLI and the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from carekey.crypto.keys import load_key_file
from tests.e2e.web_support import ImageFakeMatcher, sign_in


def _actions(built) -> set[str]:  # type: ignore[no-untyped-def]
    return {a.action for a in built.services.transparency.admin_actions()}


def test_admin_adds_a_site_and_bad_input_is_shown_next_to_the_form(web):
    client, _, built = web
    token = sign_in(client, "admin")
    r = client.post(
        "/admin/sites",
        data={"csrf": token, "site_id": "east", "name": "East market", "district": "Eastern", "program_id": "demo"},
    )
    assert r.status_code == 200 and "Site saved" in r.text and 'data-site="east"' in r.text
    assert any(s.id == "east" for s in built.services.admin.sites())
    assert "admin_add_site" in _actions(built)
    r = client.post("/admin/sites", data={"csrf": token, "site_id": "West Side!", "name": "W", "program_id": "demo"})
    assert r.status_code == 422 and 'id="sites-error"' in r.text and 'value="West Side!"' in r.text
    r = client.post("/admin/sites", data={"csrf": token, "site_id": "west", "name": "W", "program_id": "nope"})
    assert r.status_code == 422 and "no program" in r.text
    assert client.post("/admin/sites", data={"site_id": "x", "name": "x", "program_id": "demo"}).status_code == 403


def test_key_rotation_needs_confirmation_is_logged_and_writes_a_new_version(web, settings):
    client, _, built = web
    token = sign_in(client, "admin")
    before = load_key_file(settings.resolved_key_file()).biometric_version
    page = client.get("/admin/keys").text
    assert 'id="key-version"' in page and 'id="renewal-due">0<' in page
    r = client.post("/admin/keys/rotate-biometric", data={"csrf": token})
    assert r.status_code == 422 and "tick the box" in r.text
    assert load_key_file(settings.resolved_key_file()).biometric_version == before
    r = client.post("/admin/keys/rotate-biometric", data={"csrf": token, "confirm": "yes"})
    assert r.status_code == 200 and 'id="key-rotated"' in r.text
    assert load_key_file(settings.resolved_key_file()).biometric_version == before + 1
    assert "admin_rotate_key" in _actions(built)
    r = client.post("/admin/keys/renew-biometric", data={"csrf": token})
    assert r.status_code == 200 and 'id="renewal-report"' in r.text


def test_only_an_admin_reaches_the_sites_and_keys_screens(web):
    _, app, _ = web
    from fastapi.testclient import TestClient

    for username in ("registrar", "clinician", "manager", "auditor"):
        with TestClient(app) as c:
            token = sign_in(c, username)
            for path in ("/admin/sites", "/admin/keys"):
                assert c.get(path).status_code == 403, (username, path)
            r = c.post("/admin/keys/rotate-biometric", data={"csrf": token, "confirm": "yes"})
            assert r.status_code == 403


def test_admin_creates_a_program_from_the_browser_and_it_is_logged_and_counted(web):
    client, _, built = web
    token = sign_in(client, "admin")
    form = client.get("/admin/sites").text
    assert 'id="add-program"' in form and 'name="notice_version" value="v1"' in form and 'value="fr"' in form
    r = client.post(
        "/admin/programs",
        data={
            "csrf": token,
            "program_id": "malaria",
            "program_name": "Malaria screening",
            "notice_version": "v1",
            "language": ["en", "fr"],
        },
    )
    assert r.status_code == 200 and "Program saved" in r.text and 'data-program="malaria"' in r.text
    program = next(p for p in built.services.admin.programs() if p.id == "malaria")
    assert program.name == "Malaria screening" and program.languages == ("en", "fr")
    assert program.notice_versions == ("v1",)
    assert "admin_create_program" in _actions(built)
    public = client.get("/transparency").text
    assert 'data-action="admin_create_program">program created<' in public
    # bad input: shown beside the form, values kept, nothing created
    r = client.post("/admin/programs", data={"csrf": token, "program_id": "Bad Id!", "program_name": "X"})
    assert r.status_code == 422 and 'id="sites-error"' in r.text and 'value="Bad Id!"' in r.text
    r = client.post(
        "/admin/programs",
        data={"csrf": token, "program_id": "tb", "program_name": "TB", "notice_version": "v1", "language": "sw"},
    )
    assert r.status_code == 422 and "no consent notice exists" in r.text
    r = client.post(
        "/admin/programs",
        data={
            "csrf": token,
            "program_id": "malaria",
            "program_name": "Again",
            "notice_version": "v1",
            "language": "en",
        },
    )
    assert r.status_code == 422 and "program &#39;malaria&#39; exists" in r.text
    assert {p.id for p in built.services.admin.programs()} == {"demo", "malaria"}
    no_csrf = {"program_id": "x", "program_name": "x", "notice_version": "v1", "language": "en"}
    assert client.post("/admin/programs", data=no_csrf).status_code == 403


def test_log_key_rotation_from_the_browser_takes_effect_at_once_and_the_log_still_verifies(web, settings):
    from fastapi.testclient import TestClient

    from carekey.audit.sth import LogSigner

    client, app, built = web
    token = sign_in(client, "admin")
    old = built.services.transparency.public_key()
    assert old.hex() in client.get("/admin/keys").text
    r = client.post("/admin/keys/rotate-log", data={"csrf": token})
    assert r.status_code == 422 and "tick the box" in r.text
    assert built.services.transparency.public_key() == old
    r = client.post("/admin/keys/rotate-log", data={"csrf": token, "confirm": "yes"})
    assert r.status_code == 200 and 'id="log-key-rotated"' in r.text
    new = built.services.transparency.public_key()
    assert new != old and new.hex() in r.text
    assert LogSigner.load(settings.resolved_log_key_file()).public_key == new  # the key file was replaced
    assert not settings.resolved_log_key_file().with_name(settings.resolved_log_key_file().name + ".new").exists()
    assert "log_key_rotate" in _actions(built)
    assert built.services.transparency.tree_head().sth.verify(new)  # heads are signed by the new key now
    with TestClient(app) as auditor:
        token = sign_in(auditor, "auditor")
        r = auditor.post("/auditor", data={"csrf": token})
        assert r.status_code == 200 and "Log verified" in r.text, r.text
    # a restart with the new key file starts (the key check names the new key) and still verifies
    from carekey import bootstrap

    again = bootstrap.build(settings, matcher=ImageFakeMatcher())
    try:
        assert again.services.transparency.public_key() == new
    finally:
        again.close()


def test_service_errors_are_shown_in_french(web):
    client, _, _ = web
    client.cookies.set("carekey_lang", "fr")
    token = sign_in(client, "admin")
    r = client.post("/admin/sites", data={"csrf": token, "site_id": "west", "name": "W", "program_id": "nope"})
    assert r.status_code == 422 and "aucun programme" in r.text, r.text
    r = client.post("/admin/keys/rotate-log", data={"csrf": token})
    assert r.status_code == 422 and "Cochez la case" in r.text


def test_fhir_send_and_retention_run_from_the_admin_home(web):
    client, _, built = web
    token = sign_in(client, "admin")
    home = client.get("/").text
    assert 'id="fhir-send"' in home and 'id="retention-run"' in home and 'id="due-expired">0<' in home
    assert "carekey fhir send" not in home  # the web does it now
    r = client.post("/admin/fhir/send", data={"csrf": token})
    assert r.status_code == 200 and 'id="fhir-sent"' in r.text
    r = client.post("/admin/retention", data={"csrf": token})
    assert r.status_code == 422 and "tick the box" in r.text
    # eleven years later (retention: 10 years), nobody seen since: both seeded people are due
    built.services.deps.clock.now = datetime.now(UTC) + timedelta(days=round(365.25 * 11))
    token = sign_in(client, "admin")
    assert 'id="due-expired">2<' in client.get("/").text
    r = client.post("/admin/retention", data={"csrf": token, "confirm": "yes"})
    assert r.status_code == 200 and 'id="retention-done"' in r.text and "Ama" not in r.text
    assert "Erased: 2 " in r.text and 'id="due-expired">0<' in r.text
    with built.services.deps.uow(read_only=True) as uow:
        assert uow.people.count() == 0
    assert "retention_delete" in _actions(built)  # each deletion decided and logged, with the admin as actor
