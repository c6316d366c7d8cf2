"""Issue 19 in a real browser: a whole screening visit on a site node while the central registry is stopped, then
the sync from the node's own *Sync now* screen, and the person found centrally.

Two data folders and two servers on loopback, as in ``tests/e2e/test_node_sync.py``: the central registry (a
uvicorn serving /sync) and the node (``carekey serve``'s app on its own folder, unlocked with its passphrase, the
periodic sync off). The node is registered, approved by one admin, confirmed by a second and synced once (its
staff accounts arrive); then the central server is stopped and the visit runs in headless Chromium: sign in, open
a visit, enroll a person with consent, record the exam (clinician), print the slip. A *Sync now* while the central
registry is down says so and loses nothing; the central server is started again on the same port, *Sync now*
pushes the day, and the central registry finds the person by card with the exam."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import expect

from carekey import bootstrap
from carekey.bootstrap import node as node_setup
from carekey.config import Settings
from carekey.interfaces.api.app import create_app
from carekey.services.admin import DEMO_SEED, LOCAL_OPERATOR
from carekey.services.deps import Actor
from tests.conftest import PASSWORD
from tests.e2e.browser.conftest import _free_port, sign_in
from tests.e2e.web_support import seed

pytestmark = pytest.mark.browser
PASSPHRASE = "node passphrase for the browser test"
CARE = "care_record"


@contextmanager
def serving(app, port: int) -> Iterator[str]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        if server.started:
            break
        time.sleep(0.025)
    assert server.started, f"the server on port {port} did not start"
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(15)


def test_a_whole_visit_on_the_node_with_the_central_server_stopped_then_synced(tmp_path, browser, monkeypatch):
    # the central registry: the program, its sites and staff; a second admin for the two-person rule
    central_settings = Settings(data_dir=tmp_path / "central", argon2_time_cost=1, argon2_memory_kib=64)
    bootstrap.initialize(central_settings)
    central = bootstrap.build(central_settings)
    world = seed(central.services)
    admin2 = central.services.admin.add_user(LOCAL_OPERATOR, "admin2", "admin", PASSWORD)
    second_admin = Actor.of(central.services.admin.approve_user(DEMO_SEED, admin2.username))
    central_port = _free_port()

    node_settings = Settings(
        data_dir=tmp_path / "node",
        argon2_time_cost=1,
        argon2_memory_kib=64,
        node_sync_timeout_seconds=600,  # a shared, loaded test machine
        node_sync_interval_seconds=0,  # no periodic sync: only the button here
    )
    with serving(create_app(central_settings, built=central, web=False), central_port) as central_url:
        info = node_setup.initialize_node(node_settings, central_url, "north", PASSPHRASE)
        central.services.sync.approve(world.admin, info["node_id"], info["code"])
        central.services.sync.confirm(second_admin, info["node_id"])
        node = bootstrap.build(node_settings)
        node_setup.sync_node(node, node_setup.node_link(node_settings, PASSPHRASE))  # staff accounts arrive
    with pytest.raises(httpx.TransportError):  # the central server is stopped
        httpx.get(f"{central_url}/health", timeout=2)

    monkeypatch.setenv("CAREKEY_NODE_PASSPHRASE", PASSPHRASE)  # as `carekey serve` asks for it on a node
    node_app = create_app(node_settings, built=node)
    contexts = []
    try:
        with serving(node_app, _free_port()) as node_url:

            def new_page():  # type: ignore[no-untyped-def]
                ctx = browser.new_context(base_url=node_url, viewport={"width": 1000, "height": 800})
                ctx.set_default_timeout(20_000)
                contexts.append(ctx)
                return ctx.new_page()

            page = new_page()
            sign_in(page, "registrar")  # the password hash came with the first sync: signs in offline
            page.click("#open-visit")
            expect(page.locator("h1")).to_have_text("Who is this person?")
            page.click("#new-person")
            page.fill("#f-given_name", "Abena")
            page.fill("#f-family_name", "Asante")
            page.fill("#f-birth_year", "1969")
            page.select_option("#f-sex", "female")
            page.fill("#f-card_number", "NK5150")
            page.fill("#f-village", "Kpaliga")
            for purpose in ("care_record", "aggregate_statistics"):
                page.check(f"input[name=grant][value={purpose}]")
            page.click("#enroll")
            expect(page.locator(".flash")).to_contain_text("Person enrolled")
            expect(page.locator("h1")).to_have_text("Abena Asante")
            code = page.locator(".visit-head .code").inner_text()

            clinician = new_page()
            sign_in(clinician, "clinician")
            clinician.click(f"text=Open {code}")
            expect(clinician.locator("h1")).to_have_text("Abena Asante")
            clinician.click("#record-exam")
            clinician.fill("#f-systolic_bp", "152")
            clinician.fill("#f-diastolic_bp", "96")
            clinician.click("#save-exam")
            expect(clinician.locator(".flash")).to_contain_text("Exam recorded")
            expect(clinician.locator("table.exams")).to_contain_text("152/96 mmHg")
            clinician.click("#print-slip")
            expect(clinician.locator("#slip-card")).to_have_text("NK5150")
            expect(clinician.locator("#slip-next")).to_be_visible()

            # still offline: Sync now says so, and nothing is lost
            page.goto("/")
            page.click("#node-link")
            page.click("#sync-now")
            expect(page.locator("#sync-outcome")).to_contain_text("did not complete")
            expect(page.locator("#sync-outcome")).to_contain_text("cannot be reached")

            # the network is back: the central server runs again on its address, Sync now pushes the day
            with serving(create_app(central_settings, built=central, web=False), central_port):
                page.click("#sync-now")
                expect(page.locator("#sync-outcome")).to_contain_text("Synced at")
                expect(page.locator("#sync-outcome")).to_contain_text("1 record(s) applied centrally")
                expect(page.locator("#waiting")).to_have_text("0")
    finally:
        for ctx in contexts:
            ctx.close()
        node.close()

    # the central registry finds her by card, with the exam recorded on the node, and holds the node's log
    s = central.services
    visit = s.visits.open(world.registrar, "north")
    found = s.lookup.by_card(world.registrar, visit.id, CARE, "NK5150")
    assert len(found) == 1
    pid = found[0].person_id
    assert s.people.read(world.registrar, visit.id, CARE, pid).person.given_name == "Abena"
    with central.database.uow() as uow:
        exams = uow.exams.for_person(pid)
        row = uow.sync.get_node(info["node_id"])
    assert len(exams) == 1 and exams[0].site_id == "north"
    assert row is not None and row.flag is None and row.log_size > 0
    central.close()
