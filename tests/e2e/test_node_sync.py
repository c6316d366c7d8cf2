"""Issue 19: a central registry and a site node, two data folders and two servers on loopback (the central one a
real uvicorn serving /sync, the node's own app in this process), synced by the node's signed link. The central
store runs on SQLite and on PostgreSQL (``db_url``)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
import uvicorn

from carekey import bootstrap
from carekey.audit.merkle import MerkleLog
from carekey.bootstrap import node as node_setup
from carekey.config import Settings
from carekey.domain.consent import Grantor, current_grants
from carekey.domain.purposes import Purpose
from carekey.domain.sync import canonical
from carekey.errors import Conflict, ConsentMissing, Forbidden, NotAuthenticated, UpstreamFailed
from carekey.interfaces.api.app import create_app
from carekey.services.admin import DEMO_SEED, LOCAL_OPERATOR
from carekey.services.deps import Actor
from carekey.services.people import erase_person
from carekey.services.sync_link import HttpTransport, Reply
from carekey.services.sync_node import NodeSync
from tests.conftest import PASSWORD, Clock, pg_url_or_skip, reset_pg
from tests.fhir_endpoint import free_port
from tests.integration.helpers import CARE, enroll, revisit

PASSPHRASE = "node passphrase for tests"
BIO = Purpose.BIOMETRIC_IDENTIFICATION.value


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):  # the central store on both backends (the node is SQLite, as on a laptop)
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'carekey.db'}"
    url = pg_url_or_skip()
    reset_pg(url)
    return url


class Central:
    def __init__(self, app, world, base: str) -> None:
        self.app, self.world, self.base = app, world, base
        self.s = app.services
        admin2 = self.s.admin.add_user(LOCAL_OPERATOR, "admin2", "admin", PASSWORD)
        self.admin2 = Actor.of(self.s.admin.approve_user(DEMO_SEED, admin2.username))


@pytest.fixture
def central(app, world):
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(app.settings, built=app, web=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.025)
    assert server.started
    try:
        yield Central(app, world, base)
    finally:
        server.should_exit = True
        thread.join(10)


class Node:
    def __init__(self, settings: Settings, info: dict, transport=None) -> None:
        self.settings, self.info = settings, info
        self.id = info["node_id"]
        self.app = bootstrap.build(settings)
        self.app.services.deps.clock = Clock()
        self.s = self.app.services
        self.transport = transport
        self.link = node_setup.node_link(settings, PASSPHRASE, transport)

    def sync(self, transport=None):
        if transport is not None:
            self.link.transport = transport
        try:
            return node_setup.sync_node(self.app, self.link)
        finally:
            self.link.transport = self.transport or self.link.transport

    def uow(self):
        return self.app.database.uow()


def node_settings(tmp_path, name="node") -> Settings:
    # a generous timeout: the test machine is shared and these tests run under `nice`
    return Settings(data_dir=tmp_path / name, argon2_time_cost=1, argon2_memory_kib=64, node_sync_timeout_seconds=600)


def register(central: Central, tmp_path, site="north", name="node", approve=True) -> Node:
    settings = node_settings(tmp_path, name)
    info = node_setup.initialize_node(settings, central.base, site, PASSPHRASE)
    if approve:
        central.s.sync.approve(central.world.admin, info["node_id"], info["code"])
        central.s.sync.confirm(central.admin2, info["node_id"])
    node = Node(settings, info, HttpTransport(central.base, 600))
    return node


@pytest.fixture
def node(central, tmp_path):
    n = register(central, tmp_path)
    n.sync()  # the program, its sites and staff arrive
    yield n
    n.app.close()


def exam_count(uow, pid):
    return len(uow.exams.for_person(pid))


# -- registration, the two-person rule, authentication ------------------------------------------------------------


def test_a_node_syncs_nothing_until_approved_and_confirmed_by_two_admins(central, tmp_path):
    n = register(central, tmp_path, approve=False)
    try:
        with pytest.raises(Forbidden, match="not yet approved"):
            n.sync()
        with pytest.raises(Forbidden, match="not the code"):
            central.s.sync.approve(central.world.admin, n.id, "AAAA-AAAA")
        central.s.sync.approve(central.world.admin, n.id, n.info["code"])
        with pytest.raises(Forbidden, match="another admin"):
            central.s.sync.confirm(central.world.admin, n.id)
        with pytest.raises(Forbidden, match="not yet approved"):
            n.sync()
        central.s.sync.confirm(central.admin2, n.id)
        report = n.sync()
        assert report.cursor >= 0
        with n.uow() as uow:
            assert {s.id for s in uow.programs.list_sites()} == {"north", "south"}
        # every step is in the central log: refusals as denied, admin actions counted publicly
        with central.app.database.uow() as uow:
            events = [e.event for e in uow.access_log.latest(200)]
        denied = [e for e in events if e.outcome == "denied"]
        assert any(e.actor_id == f"node-{n.id}" and "not yet approved" in e.reason for e in denied)
        assert any(e.action == "admin_approve_node" and "wrong one-time code" in e.reason for e in denied)
        assert any(e.action == "admin_confirm_node" and "another admin" in e.reason for e in denied)
        counted = {a.action for a in central.s.transparency.admin_actions()}
        assert {"admin_approve_node", "admin_confirm_node"} <= counted

        central.s.sync.revoke(central.world.admin, n.id)
        with pytest.raises(Forbidden, match="revoked"):
            n.sync()
    finally:
        n.app.close()


def test_unknown_node_and_forged_signature_are_refused(central, node):
    node.link.node_id = "N-unknown"
    with pytest.raises(NotAuthenticated, match="unknown node"):
        node.link.call("GET", "/sync/changes?after=0")
    node.link.node_id = node.id
    r = httpx.get(
        f"{central.base}/sync/changes",
        headers={
            "X-Carekey-Node": node.id,
            "X-Carekey-Timestamp": str(int(time.time() * 1000)),
            "X-Carekey-Nonce": "n1",
            "X-Carekey-Signature": "00" * 64,
        },
    )
    assert r.status_code == 401 and "not signed" in r.json()["detail"]


def test_the_node_key_is_sealed_under_the_passphrase(node):
    text = (node.settings.data_dir / node_setup.NODE_KEY).read_text()
    assert json.loads(text)["kdf"] == "argon2id"
    from carekey.errors import KeyCheckFailed

    with pytest.raises(KeyCheckFailed, match="wrong passphrase"):
        node_setup.node_link(node.settings, "not the passphrase")


# -- the slice: enroll offline, sync, find centrally ------------------------------------------------------------


def test_enroll_and_exam_offline_then_sync_finds_the_person_centrally_with_the_log_verified(central, node):
    w = central.world
    visit, view = enroll(node.s, w.registrar, card_number="NK7001", given_name="Efua")
    pid = view.person.id
    node.s.exams.record(w.clinician, visit.id, CARE, pid, {"systolic_bp": 131, "diastolic_bp": 85})
    with central.app.database.uow() as uow:
        assert uow.people.get(pid) is None  # offline: nothing central yet

    report = node.sync()
    assert report.applied_centrally >= 1 and report.review == []

    cs = central.s
    found = cs.lookup.by_card(w.registrar, cs.visits.open(w.registrar, "north").id, CARE, "NK7001")
    assert [c.person_id for c in found] == [pid]
    v2 = revisit(cs, w.registrar, view)
    cs.people.read(w.registrar, v2.id, CARE, pid)
    exams = cs.exams.read(w.clinician, v2.id, CARE, pid)
    assert [e.systolic_bp for e in exams] == [131]
    # the node's log: every leaf the node holds is at central, under a head signed by the node's log key
    with node.uow() as uow:
        node_size = uow.access_log.size()
        node_root = uow.access_log.tree().root()
    row = next(n for n in cs.sync.nodes(w.admin) if n.id == node.id)
    assert row.log_size == node_size and row.flag is None
    with central.app.database.uow() as uow:
        assert MerkleLog().root() != node_root
        tree = MerkleLog()
        tree.extend(uow.sync.node_leaves(node.id))
        assert tree.root() == node_root

    # acknowledged batches keep their hash for the chain, never the records opened for the wire
    import sqlite3

    with sqlite3.connect(node.settings.data_dir / "carekey.db") as db:
        bodies = db.execute("SELECT length(body), acked_at IS NOT NULL FROM node_outbox").fetchall()
    assert bodies and all(size == 0 and acked for size, acked in bodies)
    # a second sync changes nothing: idempotent
    node.sync()
    with central.app.database.uow() as uow:
        assert exam_count(uow, pid) == 1
        history = uow.consents.history(pid)
        assert len(history) == 5 and len({c.id for c in history}) == 5  # enrollment's decisions, once each


# -- what moves back: withdrawal, erasure, the catchment -------------------------------------------------------


def test_a_withdrawal_made_centrally_reaches_the_node(central, node):
    w, cs = central.world, central.s
    _, view = enroll(node.s, w.registrar, card_number="NK7002")
    pid = view.person.id
    node.sync()
    v = revisit(cs, w.registrar, view)
    cs.consents.decide(w.registrar, v.id, CARE, pid, BIO, False, "v1", "en", Grantor())
    with node.uow() as uow:
        assert Purpose.BIOMETRIC_IDENTIFICATION in current_grants(uow.consents.history(pid))
    node.sync()
    with node.uow() as uow:
        history = uow.consents.history(pid)
    assert Purpose.BIOMETRIC_IDENTIFICATION not in current_grants(history)
    assert Purpose.CARE_RECORD in current_grants(history)
    assert len(history) == 6 and len({c.id for c in history}) == 6  # enrollment's five and the withdrawal


def test_consent_decisions_merge_by_time_with_a_withdrawal_winning_ties(central, node):
    w, cs = central.world, central.s
    visit, view = enroll(node.s, w.registrar, card_number="NK7003")
    pid = view.person.id
    node.sync()
    at = node.s.deps.clock() + timedelta(minutes=5)
    # the same instant on both sides: the node grants nothing new, central withdraws; both merge to withdrawn
    central_clock, node_clock = Clock(), node.s.deps.clock
    central_clock.now = at
    cs.deps.clock = central_clock
    node_clock.now = at  # type: ignore[attr-defined]
    v = revisit(cs, w.registrar, view)
    cs.consents.decide(w.registrar, v.id, CARE, pid, "aggregate_statistics", False, "v1", "en", Grantor())
    node.s.consents.decide(w.registrar, visit.id, CARE, pid, "aggregate_statistics", True, "v1", "en", Grantor())
    cs.deps.clock = Clock()
    node_clock.now = None  # type: ignore[attr-defined]
    node.sync()
    for uow_of in (node.uow, central.app.database.uow):
        with uow_of() as uow:
            assert Purpose.AGGREGATE_STATISTICS not in current_grants(uow.consents.history(pid))


def test_an_erasure_made_centrally_is_applied_on_the_node_and_the_stale_list_empties(central, node):
    w, cs = central.world, central.s
    _, view = enroll(node.s, w.registrar, card_number="NK7004")
    pid = view.person.id
    node.sync()
    with central.app.database.uow() as uow:
        erase_person(uow, cs.deps, pid)
        uow.commit()
    stale = cs.sync.stale(w.admin)
    assert [(s["node_id"], s["person_id"]) for s in stale] == [(node.id, pid)]
    report = node.sync()
    assert report.erased == 1
    with node.uow() as uow:
        assert uow.people.get(pid) is None
        assert all(e.event.person_id != pid for e in uow.access_log.latest(500))  # pseudonymized there too
    node.sync()  # the next pull acknowledges the erasure
    assert cs.sync.stale(w.admin) == []


def test_an_erasure_made_on_the_node_reaches_central(central, node):
    w = central.world
    _, view = enroll(node.s, w.registrar, card_number="NK7005")
    pid = view.person.id
    node.sync()
    with node.uow() as uow:
        erase_person(uow, node.s.deps, pid)
        uow.commit()
    node.sync()
    with central.app.database.uow() as uow:
        assert uow.people.get(pid) is None


def test_a_node_never_receives_another_sites_people_or_templates(central, node):
    w, cs = central.world, central.s
    _, south = enroll(cs, w.registrar_south, card_number="SK9001", given_name="Kojo")
    _, north = enroll(cs, w.registrar, card_number="NK9001", given_name="Abena")
    node.sync()
    with node.uow() as uow:
        assert uow.people.get(south.person.id) is None
        assert uow.people.get(north.person.id) is not None
        assert uow.biometrics.person_ids() == []
    # the north person seen at south later stays in the north catchment; the south person never moves
    node.sync()
    with node.uow() as uow:
        assert uow.people.get(south.person.id) is None


# -- resumable, idempotent, ordered -----------------------------------------------------------------------------


class LosingAnswers:
    """Forwards to the central server; on the push the answer is lost after central applied it (the network cut,
    or the node killed, between the apply and the acknowledgement)."""

    def __init__(self, inner: HttpTransport, lose_path: str) -> None:
        self.inner, self.lose_path, self.lost = inner, lose_path, 0

    def send(self, method, path, body, headers) -> Reply:
        reply = self.inner.send(method, path, body, headers)
        if path.startswith(self.lose_path) and not self.lost:
            self.lost += 1
            raise UpstreamFailed("connection lost (test)")
        return reply


class Unreachable:
    def send(self, method, path, body, headers) -> Reply:
        raise UpstreamFailed("the central registry cannot be reached (test)")


def test_a_sync_cut_in_the_middle_resumes_without_loss_or_duplicates(central, node):
    w = central.world
    visit, view = enroll(node.s, w.registrar, card_number="NK7006")
    pid = view.person.id
    node.s.exams.record(w.clinician, visit.id, CARE, pid, {"pulse": 70})
    with pytest.raises(UpstreamFailed):
        node.sync(Unreachable())  # not applied at all
    with pytest.raises(UpstreamFailed):
        node.sync(LosingAnswers(HttpTransport(central.base, 600), "/sync/push"))  # applied, answer lost
    with central.app.database.uow() as uow:
        assert exam_count(uow, pid) == 1
    with node.uow() as uow:
        assert len(uow.sync.outbox()) == 1  # waiting for its acknowledgement
    with node.uow() as uow:
        before = uow.sync.node_state()
    with pytest.raises(UpstreamFailed):
        node.sync(LosingAnswers(HttpTransport(central.base, 600), "/sync/changes"))  # pushed, the pull's answer lost
    with node.uow() as uow:
        after = uow.sync.node_state()
        assert uow.sync.outbox() == []  # the batch was acknowledged again (not applied again)
    assert (after.cursor, after.last_sync_at) == (before.cursor, before.last_sync_at)  # the pull was not applied
    report = node.sync()
    assert report.cursor > 0
    with node.uow() as uow:
        assert uow.sync.outbox() == []
        state = uow.sync.node_state()
    with central.app.database.uow() as uow:
        assert exam_count(uow, pid) == 1
        assert len(uow.consents.history(pid)) == 5
        applied = [
            e.event for e in uow.access_log.latest(500) if e.event.action == "sync_apply" and e.event.person_id == pid
        ]
        node_row = uow.sync.get_node(node.id)
    assert len(applied) == 1  # the retried batch was acknowledged, not applied again
    assert node_row is not None and node_row.last_seq == state.acked_seq and node_row.flag is None


class Recorder:
    def __init__(self, inner: HttpTransport) -> None:
        self.inner, self.sent = inner, []

    def send(self, method, path, body, headers) -> Reply:
        self.sent.append((method, path, body, dict(headers)))
        return self.inner.send(method, path, body, headers)


def test_a_replayed_or_reordered_batch_is_refused_and_flags_the_node(central, node):
    w = central.world
    enroll(node.s, w.registrar, card_number="NK7007")
    rec = Recorder(HttpTransport(central.base, 600))
    node.sync(rec)
    method, path, body, headers = next(x for x in rec.sent if x[1] == "/sync/push")
    # the very same request again: its nonce was spent
    r = httpx.post(central.base + path, content=body, headers=headers)
    assert r.status_code == 403 and "replayed request" in r.json()["detail"]
    # the same seq with other content, freshly signed: a replayed batch
    batch = json.loads(body)
    forged = canonical(batch | {"created_at": "2020-01-01T00:00:00+00:00"})
    with pytest.raises(Conflict, match="replayed batch"):
        node.link.call("POST", "/sync/push", forged)
    # a batch skipping ahead: reordered
    with node.uow() as uow:
        state = uow.sync.node_state()
    ahead = canonical(batch | {"seq": state.acked_seq + 2})
    with pytest.raises(Conflict, match="reordered batch"):
        node.link.call("POST", "/sync/push", ahead)
    row = next(n for n in central.s.sync.nodes(w.admin) if n.id == node.id)
    assert row.flag is not None and "reordered" in row.flag


def test_a_rewritten_node_log_is_detected_at_sync(central, node):
    w = central.world
    enroll(node.s, w.registrar, card_number="NK7008")
    node.sync()
    with node.uow() as uow:
        state = uow.sync.node_state()
        size = uow.access_log.size()
        leaves = [e.leaf_input for e in uow.access_log.entries(0, size)]
    # the operator rewrites the node's first entry and signs a head over the rewritten log with the node's key
    forged = MerkleLog()
    forged.extend([b"\x00rewritten"] + leaves[1:] + [b"\x00one more"])
    head = node.s.deps.signer.sign(forged.size, forged.root())
    batch = {
        "node_id": node.id,
        "seq": state.acked_seq + 1,
        "prev_hash": state.acked_hash,
        "created_at": "2026-11-30T00:00:00+00:00",
        "changes": [],
        "log": {
            "start": size,
            "entries": [b"\x00one more".hex()],
            "head": head.to_dict(),
            "proof": [p.hex() for p in forged.consistency_proof(size, forged.size)],
        },
    }
    with pytest.raises(Conflict, match="rewritten or truncated"):
        node.link.call("POST", "/sync/push", canonical(batch))
    row = next(n for n in central.s.sync.nodes(w.admin) if n.id == node.id)
    assert row.flag is not None and "rewritten" in row.flag and row.log_size == size


# -- the lease ---------------------------------------------------------------------------------------------------


def test_past_its_lease_the_node_refuses_person_reads_until_it_syncs(central, node):
    w = central.world
    _, view = enroll(node.s, w.registrar, card_number="NK7010")
    node.sync()
    later = node.s.deps.clock() + timedelta(days=node.settings.node_lease_days + 1)
    node.s.deps.clock.now = later  # type: ignore[attr-defined]
    v = node.s.visits.open(w.registrar, "north")
    with pytest.raises(Forbidden, match="has not synced since"):
        node.s.lookup.by_card(w.registrar, v.id, CARE, "NK7010")
    enroll(node.s, w.registrar, card_number="NK7011")  # care is not blocked: new people are still enrolled
    with node.uow() as uow:
        state = uow.sync.node_state()
        uow.sync.save_node_state(replace(state, last_sync_at=later))
        uow.commit()
    v = node.s.visits.open(w.registrar, "north")
    assert [c.person_id for c in node.s.lookup.by_card(w.registrar, v.id, CARE, "NK7010")] == [view.person.id]


# -- biometric captures made offline ----------------------------------------------------------------------------


def test_an_offline_capture_is_sealed_to_the_central_key_and_received_sealed(central, node):
    from carekey.crypto.capture import CaptureKey, capture_info

    w = central.world
    central.s.sync.biometrics = None  # a registry without a matcher: captures wait sealed (the enrollment: below)
    visit, view = enroll(node.s, w.registrar, card_number="NK7020")
    pid = view.person.id
    sync = NodeSync(node.s.deps, node.id)
    image = b"\x89PNG fingerprint image bytes (never in the clear on the node)"
    cid = sync.capture(w.registrar, visit.id, BIO, pid, "fingerprint", "right_index", image)
    with node.uow() as uow:
        row = uow.sync.take_captures()[0]  # what waits in the node's store: sealed, no image
        uow.rollback()
    assert image not in row.sealed and row.id == cid
    node.sync()
    with node.uow() as uow:
        assert uow.sync.take_captures() == []  # pushed
    pending = central.s.sync.captures(w.admin)
    assert [(c["id"], c["person_id"], c["position"]) for c in pending] == [(cid, pid, "right_index")]
    key = CaptureKey.load_or_create(central.app.settings.data_dir / bootstrap.CAPTURE_KEY)
    with central.app.database.uow() as uow:
        node_id, received = uow.sync.received_captures()[0]
    assert node_id == node.id
    assert key.open(received.sealed, capture_info(cid, pid, "fingerprint", "right_index")) == image
    # without the person's biometric consent there is no capture, offline as online
    _, other = enroll(node.s, w.registrar, card_number="NK7021")
    v = node.s.visits.open(w.registrar, "north")
    node.s.lookup.by_card(w.registrar, v.id, CARE, "NK7021")
    node.s.consents.decide(w.registrar, v.id, CARE, other.person.id, BIO, False, "v1", "en", Grantor())
    with pytest.raises(ConsentMissing):
        sync.capture(w.registrar, v.id, BIO, other.person.id, "fingerprint", "left_index", image)


def test_offline_captures_are_enrolled_centrally_and_a_duplicate_comes_back_as_a_task_for_the_next_visit(central, node):
    """Item 1 of issue 19's captures: the central registry opens the sealed captures at the sync and enrolls them
    through the biometric service (consent checked, the program's duplicate check); a possible duplicate comes back
    to the node as a task on the person's visit page, answered there with the person, and the answer enrolls the
    capture centrally at the next sync."""
    from fastapi.testclient import TestClient

    from tests.e2e.web_support import csrf_of, sign_in
    from tests.integration.test_lookup_biometrics import FakeMatcher

    w, cs = central.world, central.s
    cs.biometrics.matcher = FakeMatcher()
    v0, ama = enroll(cs, w.registrar_south, card_number="SK7030")  # another site's person: never on the node
    cs.biometrics.enroll(w.registrar_south, v0.id, BIO, ama.person.id, "fingerprint", "right_index", b"ama-finger")
    # offline: a new person with a finger nobody has, and one whose finger is already enrolled (a duplicate)
    sync = NodeSync(node.s.deps, node.id)
    v1, kofi = enroll(node.s, w.registrar, card_number="NK7031", given_name="Kofi")
    sync.capture(w.registrar, v1.id, BIO, kofi.person.id, "fingerprint", "right_index", b"kofi-finger")
    v2, again = enroll(node.s, w.registrar, card_number="NK7032", given_name="Amma")
    sync.capture(w.registrar, v2.id, BIO, again.person.id, "fingerprint", "left_index", b"ama-finger")
    node.sync()

    with central.app.database.uow() as uow:
        assert [(t.position) for t in uow.biometrics.for_person(kofi.person.id)] == ["right_index"]
        assert uow.biometrics.for_person(again.person.id) == []  # a possible duplicate is not stored
        waiting = [c.person_id for _, c in uow.sync.received_captures()]
        events = [e.event for e in uow.access_log.latest(300)]
    assert waiting == [again.person.id]  # Kofi's capture was enrolled and its sealed image deleted
    offline = {kofi.person.id, again.person.id}
    granted = [
        e for e in events if e.action == "enroll_biometric" and e.outcome == "granted" and e.person_id in offline
    ]
    assert {e.person_id for e in granted} == offline
    assert all(e.actor_id == w.registrar.user_id and "offline capture" in e.reason for e in granted)
    shown = [e for e in events if e.action == "enroll_biometric_result" and e.person_id == ama.person.id]
    assert len(shown) == 1  # the candidate sees it in their access list

    # the task reached the node with Amma's record: codes only, no name of the candidate
    tasks = node.s.tasks.open_for(again.person.id)
    assert [(t.kind, [c["person_id"] for c in t.candidates]) for t in tasks] == [("duplicate", [ama.person.id])]
    assert node.s.tasks.open_for(kofi.person.id) == []
    with node.uow() as uow:
        assert uow.people.get(ama.person.id) is None  # the candidate's record never reaches the node

    # the next visit on the node shows it on the person's page; the registrar answers with the person
    with TestClient(create_app(node.app.settings, built=node.app)) as client:
        sign_in(client, "registrar")
        v3 = revisit(node.s, w.registrar, again, card="NK7032")
        node.s.people.read(w.registrar, v3.id, CARE, again.person.id)  # the registrar confirms who is there
        page = client.get(f"/visit/{v3.id}")
        assert page.status_code == 200 and 'id="tasks"' in page.text and ama.person.id in page.text
        assert "Ama" not in page.text.replace("Amma", "")
        r = client.post(
            f"/visit/{v3.id}/task",
            data={"csrf": csrf_of(page.text), "task_id": tasks[0].id, "resolution": "false_match"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert 'id="tasks"' not in client.get(f"/visit/{v3.id}").text
    node.sync()
    with central.app.database.uow() as uow:
        assert [t.position for t in uow.biometrics.for_person(again.person.id)] == ["left_index"]
        assert uow.sync.received_captures() == []  # enrolled with the override: the sealed image is gone
        overrides = [
            e.event
            for e in uow.access_log.latest(100)
            if e.event.action == "duplicate_override_false_match" and e.event.person_id == again.person.id
        ]
    assert len(overrides) == 1
    node.sync()  # idempotent: nothing is enrolled twice
    with central.app.database.uow() as uow:
        assert len(uow.biometrics.for_person(again.person.id)) == 1


def test_an_offline_capture_of_a_person_who_withdrew_centrally_is_not_enrolled(central, node):
    from tests.integration.test_lookup_biometrics import FakeMatcher

    w, cs = central.world, central.s
    cs.biometrics.matcher = FakeMatcher()
    visit, view = enroll(node.s, w.registrar, card_number="NK7033")
    pid = view.person.id
    node.sync()
    v = revisit(cs, w.registrar, view)
    cs.consents.decide(w.registrar, v.id, CARE, pid, BIO, False, "v1", "en", Grantor())  # central, meanwhile
    NodeSync(node.s.deps, node.id).capture(w.registrar, visit.id, BIO, pid, "fingerprint", "right_index", b"f1")
    node.sync()
    with central.app.database.uow() as uow:
        assert uow.biometrics.for_person(pid) == []
        assert uow.sync.received_captures() == []  # refused: the sealed capture is deleted, never enrolled
        # refused on receipt (``_receive_captures``), before any enrollment is tried
        denied = [e.event for e in uow.access_log.latest(100) if e.event.action == "sync_capture"]
    assert denied and denied[0].outcome == "denied" and "biometric_identification" in denied[0].reason


# -- the Sync now button and the periodic sync ----------------------------------------------------------------------


def test_the_sync_now_button_syncs_and_reports_the_outcome(central, node, monkeypatch):
    from fastapi.testclient import TestClient

    from tests.e2e.web_support import csrf_of, sign_in

    w = central.world
    _, view = enroll(node.s, w.registrar, card_number="NK7040")
    with TestClient(create_app(node.app.settings, built=node.app)) as locked:  # no passphrase: the key stays locked
        sign_in(locked, "registrar")
        assert 'id="locked"' in locked.get("/node").text
    monkeypatch.setenv("CAREKEY_NODE_PASSPHRASE", PASSPHRASE)
    with TestClient(create_app(node.app.settings, built=node.app)) as client:
        home = client.get("/")  # not signed in yet: the welcome page
        sign_in(client, "registrar")
        assert 'id="node-link"' in client.get("/").text
        page = client.get("/node")
        assert page.status_code == 200 and 'id="sync-now"' in page.text and 'id="sync-outcome"' not in page.text
        r = client.post("/node/sync", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 200 and 'id="sync-outcome"' in r.text and "1 record(s) applied centrally" in r.text
        with central.app.database.uow() as uow:
            assert uow.people.get(view.person.id) is not None
        # offline: the outcome says so, nothing is lost
        client.app.state.node_sync.link.transport = Unreachable()  # the API app and the web UI share the runner
        r = client.post("/node/sync", data={"csrf": csrf_of(r.text)})
        assert r.status_code == 502 and "did not complete" in r.text and "cannot be reached" in r.text
        # a clinician has no sync button (policy: admin and registrar)
        client.post("/logout", data={"csrf": csrf_of(r.text)})
        sign_in(client, "clinician")
        assert client.get("/node").status_code == 403
    assert home.status_code == 200
    with node.uow() as uow:
        events = [e.event for e in uow.access_log.latest(50) if e.event.action == "node_sync"]
    assert len(events) == 2 and all(e.actor_id == w.registrar.user_id for e in events)


def in_own_loop(coro):
    """``asyncio.run`` in a thread of its own: another test on this xdist worker (Playwright's sync API) may leave
    an event loop running in the main thread."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_the_periodic_sync_runs_on_its_interval_and_never_when_off(central, node):
    import asyncio

    from carekey.interfaces.api import app as api_app

    w = central.world
    _, view = enroll(node.s, w.registrar, card_number="NK7041")
    runner = node_setup.node_runner(node.app, PASSPHRASE)
    assert runner is not None and node_setup.node_runner(central.app, PASSPHRASE) is None  # central: no runner
    in_own_loop(api_app.sync_periodically(runner, 0))  # off: returns at once, nothing synced
    assert runner.last is None
    ticks: list[float] = []

    async def two_ticks(seconds):  # the loop's sleep, without waiting: the third tick ends the loop
        ticks.append(seconds)
        if len(ticks) == 3:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        in_own_loop(api_app.sync_periodically(runner, 900, two_ticks))
    assert ticks == [900, 900, 900]
    assert runner.last is not None and runner.last.ok and runner.last.trigger == "periodic"
    with central.app.database.uow() as uow:
        assert uow.people.get(view.person.id) is not None


# -- demographic edits: per-field merge, conflicts to the review list ---------------------------------------------


def test_concurrent_demographic_edits_merge_per_field_and_a_conflict_goes_to_the_review_list(central, node):
    w, cs = central.world, central.s
    _, view = enroll(node.s, w.registrar, card_number="NK7050", given_name="Yaa", village="Tamale")
    pid = view.person.id
    node.sync()
    # both sides edit while apart: central the village and the family name, the node the given and family name
    v = revisit(cs, w.registrar, view)
    cs.demographics.edit(w.registrar, v.id, CARE, pid, {"village": "Savelugu", "family_name": "Central"})
    nv = revisit(node.s, w.registrar, view)
    node.s.demographics.edit(w.registrar, nv.id, CARE, pid, {"given_name": "Yaaba", "family_name": "Node"})
    node.sync()

    def fields(app):
        from carekey.services.records import load_row, open_person

        with app.database.uow() as uow:
            p = open_person(app.services.deps.crypto, load_row(uow, pid))
            found = uow.people.by_name("demo", app.services.deps.index.name("Yaaba Central"), 5)
            return (p.given_name, p.family_name, p.village), [r.id for r in found], len(uow.sync.edits_of(pid))

    # a change made on one side only wins; the family name changed on both: central's value stays
    assert fields(central.app) == (("Yaaba", "Central", "Savelugu"), [pid], 4)
    assert fields(node.app) == (("Yaaba", "Central", "Savelugu"), [pid], 4)
    review = cs.tasks.conflicts(w.admin)
    assert [(r["person_id"], r["field"]) for r in review] == [(pid, "family_name")]
    tasks = node.s.tasks.open_for(pid)
    assert [(t.kind, t.position) for t in tasks] == [("conflict", "family_name")]
    # the registrar checks it with the person at the next visit on the node; the review list empties everywhere
    node.s.tasks.resolve(w.registrar, nv.id, None, pid, tasks[0].id, "checked")
    node.sync()
    assert cs.tasks.conflicts(w.admin) == []
    node.sync()  # idempotent: the same edits, the same record
    assert fields(central.app) == fields(node.app) == (("Yaaba", "Central", "Savelugu"), [pid], 4)
    # an edit made after the merge (on the node) replaces the kept value without a conflict
    node.s.demographics.edit(w.registrar, nv.id, CARE, pid, {"family_name": "Mensah"})
    node.sync()
    with central.app.database.uow() as uow:
        from carekey.services.records import load_row, open_person

        assert open_person(cs.deps.crypto, load_row(uow, pid)).family_name == "Mensah"
    assert cs.tasks.conflicts(w.admin) == []


# -- the patient's access list merges every log ----------------------------------------------------------------------


def test_the_portal_access_list_merges_the_node_log_entries_with_their_proofs(central, node):
    from carekey.audit.proofs import verify_access_receipt
    from tests.integration.helpers import consent, person_input

    w, cs = central.world, central.s
    visit = node.s.visits.open(w.registrar, "north")
    view = node.s.people.enroll(
        w.registrar, visit.id, CARE, person_input(card_number="NK7060"), consent(), confirm_new=True, pin="246813"
    )
    pid = view.person.id
    node.s.people.read(w.registrar, visit.id, CARE, pid)  # an access on the node
    node.sync()
    token = cs.patients.login("NK7060", "246813")
    views = cs.patients.accesses(cs.patients.authenticate(token.token))
    on_node = [v for v in views if v.log == node.id]
    central_views = [v for v in views if v.log == "central"]
    assert central_views and on_node  # both logs, in one list
    assert {v.event["action"] for v in on_node} >= {"enroll", "read_person"}
    assert all(v.event["person_id"] == pid for v in views)
    row = next(n for n in cs.sync.nodes(w.admin) if n.id == node.id)
    node_key = bytes.fromhex(row.log_public_key)
    for v in on_node:  # each proven in the node's log under the node's signed head, with the node's key only
        shown = v.to_dict()
        assert shown["log"] == node.id and verify_access_receipt(shown, node_key)
        assert not verify_access_receipt(shown, central.app.services.deps.signer.public_key)
    forged = on_node[0].to_dict() | {"event": on_node[0].event | {"actor_id": "someone-else"}}
    assert not verify_access_receipt(forged, node_key)  # a changed entry no longer opens its leaf
    # an erasure shreds them with the person
    with central.app.database.uow() as uow:
        erase_person(uow, cs.deps, pid)
        uow.commit()
        assert uow.sync.disclosures_of(pid) == []


def test_the_node_web_capture_seals_the_image_for_central_enrollment(central, node):
    from fastapi.testclient import TestClient

    from tests.e2e.web_support import FIXTURES, csrf_of, sign_in

    w = central.world
    _, view = enroll(node.s, w.registrar, card_number="NK7070")
    pid = view.person.id
    with TestClient(create_app(node.app.settings, built=node.app)) as client:
        sign_in(client, "registrar")
        v = revisit(node.s, w.registrar, view, card="NK7070")
        node.s.people.read(w.registrar, v.id, CARE, pid)
        form = client.get(f"/visit/{v.id}/capture")
        image = (FIXTURES / "finger_a.png").read_bytes()
        r = client.post(
            f"/visit/{v.id}/capture",
            data={"csrf": csrf_of(form.text), "modality": "fingerprint", "position": "right_index"},
            files={"image": ("finger.png", image, "image/png")},
        )
        assert r.status_code == 200, r.text
        assert "enrolled centrally at the next sync" in r.text
    with node.uow() as uow:
        assert uow.biometrics.for_person(pid) == []  # the node never extracts or keeps a template
        waiting = uow.sync.take_captures()
        uow.rollback()
    assert [(c.person_id, c.position) for c in waiting] == [(pid, "right_index")] and image not in waiting[0].sealed
