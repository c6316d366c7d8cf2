"""Swagger UI renders in Chromium with every request to carekey's own origin (none to a CDN), no CSP error."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_docs_render_offline_with_no_outside_request(new_page, live):
    page = new_page()
    origins: list[str] = []
    page.on("request", lambda req: origins.append(urlsplit(req.url).netloc) if req.url.startswith("http") else None)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("carekey", timeout=30_000)  # a 1.4 MB bundle
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    own = urlsplit(live.url).netloc
    assert origins and set(origins) == {own}, origins
