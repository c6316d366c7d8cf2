"""Web UI security without a browser: CSRF on every form, headers, cookie flags, no personal data in URLs."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from carekey import bootstrap
from carekey.interfaces.api.app import create_app
from carekey.interfaces.web.routes import ROUTERS
from carekey.interfaces.web.security import CSP, require_csrf
from tests.conftest import PASSWORD
from tests.e2e.web_support import csrf_of, seed, sign_in

CSRF_REFUSAL = "this form has expired or did not come from carekey"  # security.CsrfTokens.verify


def is_csrf_refusal(r) -> bool:  # type: ignore[no-untyped-def]
    """A 403 for the CSRF token, not any other 403 (a role gate, the policy)."""
    return r.status_code == 403 and CSRF_REFUSAL in r.text


def web_post_routes():  # type: ignore[no-untyped-def]
    return [r for router in ROUTERS for r in router.routes if "POST" in getattr(r, "methods", set())]


def test_every_post_route_rejects_a_missing_or_forged_csrf_token(web):
    client, app, _ = web
    token = sign_in(client)
    visit = client.post("/visit", data={"csrf": token, "site_id": "north"}, follow_redirects=False)
    vid = visit.headers["location"].rsplit("/", 1)[1]
    routes = web_post_routes()
    assert len(routes) >= 12
    for route in routes:
        assert any(d.dependency is require_csrf for d in route.dependencies), route.path
        path = route.path.replace("{visit_id}", vid)
        for bad in ({}, {"csrf": "0" * 64}, {"csrf": token[:-1] + ("0" if token[-1] != "0" else "1")}):
            r = client.post(path, data=bad | {"card_number": "NK1001", "by": "card"}, follow_redirects=False)
            assert is_csrf_refusal(r), (path, bad, r.status_code)
    # the same token with another browser's cookie is refused too (the token is bound to the cookie)
    other = TestClient(app)
    other.get("/login")
    r = other.post(
        "/login", data={"csrf": token, "username": "registrar", "password": PASSWORD}, follow_redirects=False
    )
    assert is_csrf_refusal(r)
    assert "ck_staff" not in other.cookies  # not signed in


def test_csrf_refusal_runs_no_service(web):
    client, _, built = web
    sign_in(client)
    before = built.services.visits.open_visits(built.services.auth.authenticate(client.cookies["ck_staff"]))
    assert is_csrf_refusal(client.post("/visit", data={"site_id": "north"}))
    after = built.services.visits.open_visits(built.services.auth.authenticate(client.cookies["ck_staff"]))
    assert len(after) == len(before)


def test_security_headers_on_pages_not_on_api(web):
    client, _, _ = web
    for path in ("/", "/login", "/transparency", "/no-such-page"):
        r = client.get(path)
        assert r.headers["content-security-policy"] == CSP
        assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/no-such-page").status_code == 404
    assert "content-security-policy" not in client.get("/health").headers  # the API (and /docs) keep theirs
    assert client.get("/health").json() == {"status": "ok"}


def test_no_inline_script_or_style_in_any_template():
    from carekey.interfaces.web.render import TEMPLATES

    folder = TEMPLATES.env.loader.searchpath[0]  # type: ignore[union-attr]
    import pathlib

    for path in pathlib.Path(folder).glob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert " style=" not in text and "<style" not in text, path.name
        assert not re.search(r"\son[a-z]+=", text), path.name  # no inline event handlers


@pytest.mark.parametrize(
    "mode,scheme,secure",
    [("never", "https", False), ("always", "https", True), ("auto", "http", False), ("auto", "https", True)],
)
def test_cookie_flags(settings, mode, scheme, secure):
    settings = settings.model_copy(update={"cookie_secure": mode})
    bootstrap.initialize(settings)
    built = bootstrap.build(settings)
    seed(built.services)
    with TestClient(create_app(settings, built=built), base_url=f"{scheme}://testserver") as client:
        r = client.get("/login")
        token = csrf_of(r.text)
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and ("Secure" in cookie) == secure
        r = client.post(
            "/login", data={"csrf": token, "username": "registrar", "password": PASSWORD}, follow_redirects=False
        )
        staff = [c for c in r.headers.get_list("set-cookie") if c.startswith("ck_staff=")][0]
        assert "HttpOnly" in staff and "SameSite=strict" in staff and ("Secure" in staff) == secure
    built.close()


def test_no_personal_data_in_urls_through_a_whole_visit(web):
    client, _, _ = web
    seen: list[str] = []
    client.event_hooks["request"].append(lambda req: seen.append(str(req.url)))
    token = sign_in(client)
    r = client.post("/visit", data={"csrf": token, "site_id": "north"})
    vid = str(r.url).rsplit("/", 1)[1]
    r = client.post(
        f"/visit/{vid}/lookup", data={"csrf": token, "by": "name", "name": "Ama Mensah", "birth_year": "1980"}
    )
    assert "Ama Mensah" in r.text
    pid = re.search(r'name="person_id" value="([^"]+)"', r.text).group(1)
    offer = re.search(r'name="offer" value="([^"]+)"', r.text).group(1)
    r = client.post(f"/visit/{vid}/confirm", data={"csrf": token, "person_id": pid, "offer": offer})
    assert "NK1001" in r.text
    client.post(f"/visit/{vid}/enroll", data={"csrf": token})
    client.post(f"/visit/{vid}/close", data={"csrf": token})
    assert len(seen) >= 8
    for url in seen:
        for secret in ("Ama", "Mensah", "1980", "NK1001", pid, "Gumani"):
            assert secret.lower() not in url.lower(), url


def test_purpose_comes_from_the_screen_not_the_form(web):
    client, _, built = web
    token = sign_in(client)
    r = client.post("/visit", data={"csrf": token, "site_id": "north"})
    vid = str(r.url).rsplit("/", 1)[1]
    r = client.post(
        f"/visit/{vid}/lookup",
        data={"csrf": token, "by": "card", "card_number": "NK1001", "purpose": "law_enforcement"},
    )
    assert r.status_code == 200 and "Ama" in r.text
    assert built.services.transparency.refusals() == []
    with built.database.uow() as uow:
        last = uow.access_log.latest()[0].event
    assert last.purpose == "care_record" and last.action == "lookup_result"


def test_only_a_candidate_just_shown_in_this_visit_can_be_confirmed(web):
    client, _, _ = web
    token = sign_in(client)
    first = str(client.post("/visit", data={"csrf": token, "site_id": "north"}).url).rsplit("/", 1)[1]
    r = client.post(f"/visit/{first}/lookup", data={"csrf": token, "by": "card", "card_number": "NK1001"})
    pid = re.search(r'name="person_id" value="([^"]+)"', r.text).group(1)
    offer = re.search(r'name="offer" value="([^"]+)"', r.text).group(1)
    other = str(client.post("/visit", data={"csrf": token, "site_id": "north"}).url).rsplit("/", 1)[1]
    for visit, data in (
        (first, {"person_id": pid}),  # no offer: an id typed into the form
        (first, {"person_id": pid, "offer": "0" * 64}),  # a forged offer
        (other, {"person_id": pid, "offer": offer}),
    ):  # offered in another visit
        r = client.post(f"/visit/{visit}/confirm", data={"csrf": token, **data})
        assert r.status_code == 403 and "candidates a search of this visit showed" in r.text
        assert "NK1001" not in r.text
    r = client.post(f"/visit/{first}/confirm", data={"csrf": token, "person_id": pid, "offer": offer})
    assert r.status_code == 200 and "NK1001" in r.text
