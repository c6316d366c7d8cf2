"""The two-process deployment in a real browser (issue 15): `carekey matcher serve` as a subprocess of its own (its
gallery sharded over a local Ray instance when Ray is installed, as in CI), the registry in this process holding
no biometric secret and calling the matcher over HTTP. A whole visit runs in headless Chromium: consent, enroll,
fingerprint capture (the duplicate check), next visit identified by another impression of the same finger, the
candidate confirmed. Then the matcher is stopped: a capture and a search answer 503 "Biometric matcher
unavailable" with nothing written, and the card lookup still finds the person."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import expect

from carekey import bootstrap
from carekey.bootstrap import matcher as matcher_setup
from carekey.config import Settings
from carekey.crypto.keys import load_key_file
from carekey.interfaces.api.app import create_app
from carekey.services.matcher_remote import RemoteMatcher
from tests.e2e.browser.conftest import _free_port, sign_in
from tests.e2e.web_support import seed

pytestmark = pytest.mark.browser
FINGERS = Path(__file__).resolve().parents[2] / "fixtures" / "fingerprint"
RAY = importlib.util.find_spec("ray") is not None
SHARDS = 2


class MatcherProcess:
    """`carekey matcher serve` in a process group of its own (Ray's processes are its children)."""

    def __init__(self, matcher_dir: Path, port: int, log: Path) -> None:
        cmd = [sys.executable, "-m", "carekey", "matcher", "serve", "--matcher-data", str(matcher_dir)]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        if RAY:
            cmd += ["--ray", "local", "--shards", str(SHARDS)]
        self.url, self.log = f"http://127.0.0.1:{port}", log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 240  # Ray's start and the actors' imports, on a loaded 2-core host
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the matcher exited ({self.proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                self.health()
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the matcher did not answer:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.5)

    def health(self) -> dict:
        return httpx.get(f"{self.url}/health", timeout=30).raise_for_status().json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # uvicorn stops, and Ray's local instance with the process
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(60)
        with contextlib.suppress(ProcessLookupError):  # whatever of Ray's processes is left in the group it started
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-processes")
    settings = Settings(
        data_dir=root / "registry", argon2_time_cost=1, argon2_memory_kib=64, identifications_per_hour=500
    )
    bootstrap.initialize(settings)
    port = _free_port()
    matcher_setup.initialize_matcher(settings, root / "matcher", f"http://127.0.0.1:{port}")
    # start-up order: the database (here a file), the matcher, then the registry
    matcher = MatcherProcess(root / "matcher", port, root / "matcher.log")
    built = bootstrap.build(settings)
    assert isinstance(built.services.biometrics.matcher, RemoteMatcher)
    assert load_key_file(settings.resolved_key_file()).biometric_secret is None
    seed(built.services)
    web_port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, built=built), host="127.0.0.1", port=web_port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{web_port}"
    for _ in range(400):
        try:
            httpx.get(f"{url}/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield url, built, matcher
    server.should_exit = True
    thread.join(10)
    built.close()
    matcher.stop()


def open_visit(page) -> str:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.click("#open-visit")
    expect(page.locator("h1")).to_have_text("Who is this person?")
    return str(page.url).rsplit("/", 1)[1]


def test_a_whole_visit_through_the_matcher_process_then_the_matcher_down(browser, deployment):
    url, built, matcher = deployment
    health = matcher.health()
    assert health["shards"] == (SHARDS if RAY else 1) and health["key_version"] == 1
    ctx = browser.new_context(base_url=url, viewport={"width": 1000, "height": 800})
    ctx.set_default_timeout(60_000)  # a capture runs the real extraction in the matcher process
    page = ctx.new_page()
    try:
        sign_in(page, "registrar")
        open_visit(page)
        page.click("#new-person")
        page.fill("#f-given_name", "Efua")
        page.fill("#f-family_name", "Owusu")
        page.fill("#f-birth_year", "1972")
        page.select_option("#f-sex", "female")
        page.fill("#f-card_number", "NK4242")
        page.fill("#f-village", "Gumani")
        for purpose in ("care_record", "biometric_identification", "aggregate_statistics"):
            page.check(f"input[name=grant][value={purpose}]")
        page.click("#enroll")
        expect(page.locator(".flash")).to_contain_text("Person enrolled")
        page.click("#capture")
        page.select_option("#f-modality", "fingerprint")
        page.select_option("#f-position", "right_index")
        page.set_input_files("#f-image", str(FINGERS / "db1_101_1.tif"))
        page.click("#upload")
        expect(page.locator("#accepted")).to_contain_text("fingerprint right index")
        page.click("#back-visit")
        page.click("#close-visit")
        expect(page.locator(".flash")).to_contain_text("Visit closed")

        # next year: another impression of the same finger finds her, through the matcher's (sharded) gallery
        open_visit(page)
        page.set_input_files("#f-image", str(FINGERS / "db1_101_2.tif"))
        page.check("input[name=agree]")
        page.click("#find-bio")
        expect(page.locator(".candidate")).to_have_count(1)
        expect(page.locator(".candidate")).to_contain_text("Efua Owusu")
        page.click("text=This is the person")
        expect(page.locator(".flash")).to_contain_text("Person confirmed")
        page.click("#close-visit")
        health = matcher.health()
        assert health["templates"] == 1 and health["gallery_built"]
        # with Ray: the one template is in the one of the two shards its id hashes to
        expected_shards = [0, 1] if RAY else None
        assert (sorted(health["shard_templates"]) if RAY else health["shard_templates"]) == expected_shards
        assert health["receipts"]["accepted"] == {"enroll": 1, "duplicate_search": 1, "identify": 1}
        assert health["receipts"]["refused_total"] == 0

        # the matcher stops: biometric steps answer 503 with nothing written; the card lookup still works
        matcher.stop()
        with built.database.uow() as uow:
            [efua] = [t.person_id for t in uow.biometrics.by_modality("fingerprint")]
            templates_before = len(uow.biometrics.for_person(efua))
        visit_id = open_visit(page)
        page.set_input_files("#f-image", str(FINGERS / "db1_101_2.tif"))
        page.check("input[name=agree]")
        with page.expect_response(lambda r: r.url.endswith(f"/visit/{visit_id}/identify")) as answer:
            page.click("#find-bio")
        assert answer.value.status == 503
        expect(page.locator("h1")).to_have_text("Biometric matcher unavailable")
        expect(page.locator(".card.refused")).to_contain_text("nothing was stored")
        with built.database.uow() as uow:
            assert uow.visits.offers(visit_id) == {}  # no candidate offered
        page.goto(f"/visit/{visit_id}")
        page.fill("#f-card_number", "NK4242")
        page.click("#find-card")
        expect(page.locator(".candidate")).to_contain_text("Efua Owusu")
        page.locator("button:has-text('This is the person')").first.click()
        expect(page.locator("h1")).to_have_text("Efua Owusu")
        page.click("#capture")  # a recapture while the matcher is down: 503, no template written
        page.select_option("#f-modality", "fingerprint")
        page.select_option("#f-position", "left_index")
        page.set_input_files("#f-image", str(FINGERS / "db1_101_2.tif"))
        with page.expect_response(lambda r: "/capture" in r.url and r.request.method == "POST") as answer:
            page.click("#upload")
        assert answer.value.status == 503
        expect(page.locator("h1")).to_have_text("Biometric matcher unavailable")
        with built.database.uow() as uow:
            assert len(uow.biometrics.for_person(efua)) == templates_before
    finally:
        ctx.close()
