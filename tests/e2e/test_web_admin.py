"""The admin's sites and keys screens (issue 18): the same service, policy and logging as the CLI and the API."""

from __future__ import annotations

from carekey.crypto.keys import load_key_file
from tests.e2e.web_support import sign_in


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
