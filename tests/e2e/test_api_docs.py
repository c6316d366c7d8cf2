"""/docs is served by carekey itself: every asset it names is same-origin and served, under a strict CSP."""

from __future__ import annotations

import re


def test_docs_reference_only_same_origin_assets_and_they_are_served(client):
    r = client.get("/docs")
    assert r.status_code == 200
    html = r.text
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(refs) >= 4  # stylesheet, icon, bundle, start script
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"{ref} is not same-origin"
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100, ref
    assert "<script>" not in html and "cdn" not in html.lower() and "http" not in html
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    init = client.get("/docs/assets/swagger-init.js")
    assert init.headers["content-type"].startswith("text/javascript") and "validatorUrl: null" in init.text
    assert (
        client.get("/docs/assets/vendor/swagger-ui-bundle.js")
        .headers["content-type"]
        .startswith(("application/javascript", "text/javascript"))
    )
    assert client.get("/openapi.json").json()["info"]["title"] == "carekey"


def test_redoc_leads_to_the_offline_docs(client):
    r = client.get("/redoc", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/docs"
