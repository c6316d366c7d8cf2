"""Browser tests: the real app under uvicorn on a free localhost port (temp data folder, seeded program, the
image-reading fake behind the BiometricMatcher port), driven by Playwright through Debian's Chromium.

They skip when /usr/bin/chromium is missing, and FAIL instead when CAREKEY_REQUIRE_BROWSER=1 (CI).
Set CAREKEY_SCREENSHOTS=docs/screenshots to save the screenshots linked from the README.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from PIL import Image

from carekey import bootstrap
from carekey.config import Settings
from carekey.interfaces.api.app import create_app
from carekey.interfaces.cli.demo import seed_people
from tests.conftest import PASSWORD
from tests.e2e.web_support import ImageFakeMatcher, seed

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    url: str
    built: bootstrap.App


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    data = tmp_path_factory.mktemp("web-data")
    settings = Settings(data_dir=data, argon2_time_cost=1, argon2_memory_kib=64, identifications_per_hour=500)
    bootstrap.initialize(settings)
    built = bootstrap.build(settings, matcher=ImageFakeMatcher())
    world = seed(built.services)
    crowd = {
        "registrar-north": world.registrar,
        "clinician-north": world.clinician,
        "registrar-south": world.registrar_south,
        "clinician-south": world.clinician_south,
    }
    seed_people(built.services, crowd, 120, seed=11)  # synthetic people with exams: figures worth charting
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, built=built), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield Live(url, built)
    server.should_exit = True
    thread.join(10)
    built.close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CAREKEY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CAREKEY_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"browser tests need {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, live):
    """Pages in fresh browser contexts; a CSP violation, a script error or a missing asset fails the test."""
    contexts, problems = [], []

    def _new(width: int = 1000, height: int = 800):  # type: ignore[no-untyped-def]
        ctx = browser.new_context(base_url=live.url, viewport={"width": width, "height": height})
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
        page.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if r.request.resource_type in ("stylesheet", "script", "image", "font") and r.status >= 400
                else None
            ),
        )
        return page

    yield _new
    for ctx in contexts:
        ctx.close()
    assert not problems, problems


def sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(lambda url: not url.endswith("/login"))


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Save a small PNG (palette, 64 colours) when CAREKEY_SCREENSHOTS names a folder."""
    folder = os.environ.get("CAREKEY_SCREENSHOTS")
    if not folder:
        return
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=64).save(path, optimize=True)
