"""Insider attacks on the site-node sync (issue 19) that the first attack pass did not cover: a withdrawal made on
one side must end the biometrics on the other (templates, kept images, sealed offline captures), a node must not
write into another program, and a node holding its key (an insider with the laptop and its passphrase) must get a
clear 4xx for a malformed batch or cursor, never a 500. The central registry is a real uvicorn (``central``), the
node its own data folder, as in ``test_node_sync``."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from carekey.domain.consent import Grantor
from carekey.domain.program import Program, Site
from carekey.domain.sync import canonical
from carekey.services.admin import LOCAL_OPERATOR
from carekey.services.sync_node import NodeSync
from carekey.storage.protocols import TemplateRow
from tests.e2e import test_node_sync as base
from tests.integration.helpers import CARE, enroll, revisit

# the two data folders and servers of the sync tests (the central one on SQLite and PostgreSQL)
db_url, central, node = base.db_url, base.central, base.node
BIO = base.BIO
IMAGE = b"\x89PNG a fingerprint image (never in the clear on the node)"


def central_templates(central, pid):
    with central.app.database.uow() as uow:
        return uow.biometrics.for_person(pid)


def node_captures(node):
    with sqlite3.connect(node.settings.data_dir / "carekey.db") as db:
        return [r[0] for r in db.execute("SELECT person_id FROM node_captures")]


def withdraw_bio(services, actor, view):
    v = revisit(services, actor, view)
    services.consents.decide(actor, v.id, CARE, view.person.id, BIO, False, "v1", "en", Grantor())


def add_central_template(central, pid):
    with central.app.database.uow() as uow:
        uow.biometrics.add(
            TemplateRow(f"T-{pid}", pid, "fingerprint", "right_index", 1, b"protected", datetime.now(UTC))
        )
        uow.commit()


class Recording:
    """The node's transport, remembering the last answer's status (the link raises on any 4xx or 5xx)."""

    def __init__(self, inner) -> None:
        self.inner, self.last = inner, None

    def send(self, method, path, body, headers):
        self.last = self.inner.send(method, path, body, headers)
        return self.last


def signed_status(node, method, path, body=b""):
    """(status, body) of one request signed by the node's own key."""
    rec = Recording(node.link.transport)
    node.link.transport = rec
    try:
        node.link.call(method, path, body)
    except Exception:  # noqa: BLE001 - the status is what the test looks at
        pass
    finally:
        node.link.transport = rec.inner
    return rec.last.status, rec.last.body[:300]


# -- a withdrawal travels with its consequence -------------------------------------------------------------------


def test_a_withdrawal_made_on_the_node_deletes_the_central_templates(central, node):
    w = central.world
    _, view = enroll(node.s, w.registrar, card_number="NK8001")
    pid = view.person.id
    node.sync()
    add_central_template(central, pid)  # enrolled centrally later (a fingerprint captured at the clinic)
    assert len(central_templates(central, pid)) == 1
    withdraw_bio(node.s, w.registrar, view)  # at the camp, offline: "no more fingerprints"
    node.sync()
    assert central_templates(central, pid) == []


def test_a_withdrawal_on_the_node_deletes_its_pending_sealed_capture(central, node):
    w = central.world
    visit, view = enroll(node.s, w.registrar, card_number="NK8002")
    pid = view.person.id
    NodeSync(node.s.deps, node.id).capture(w.registrar, visit.id, BIO, pid, "fingerprint", "right_index", IMAGE)
    assert node_captures(node) == [pid]
    withdraw_bio(node.s, w.registrar, view)
    assert node_captures(node) == []
    node.sync()
    assert central.s.sync.captures(w.admin) == []


def test_a_central_withdrawal_deletes_the_received_capture_and_the_node_pending_one(central, node):
    w, cs = central.world, central.s
    visit, view = enroll(node.s, w.registrar, card_number="NK8003")
    pid = view.person.id
    sync = NodeSync(node.s.deps, node.id)
    sync.capture(w.registrar, visit.id, BIO, pid, "fingerprint", "right_index", IMAGE)
    node.sync()
    # enrolled centrally at that sync (or turned into a task to capture again): nothing of it waits sealed
    assert cs.sync.captures(w.admin) == []
    # a second capture waits on the node while the person withdraws at the clinic
    v = node.s.visits.open(w.registrar, "north")
    node.s.lookup.by_card(w.registrar, v.id, CARE, "NK8003")
    sync.capture(w.registrar, v.id, BIO, pid, "fingerprint", "left_index", IMAGE)
    withdraw_bio(cs, w.registrar, view)
    assert cs.sync.captures(w.admin) == []  # the image waiting for enrollment is gone with the consent
    node.sync()
    assert node_captures(node) == []
    assert cs.sync.captures(w.admin) == []
    with central.app.database.uow() as uow:
        assert uow.biometrics.for_person(pid) == []  # and whatever the first capture enrolled is deleted


def test_central_refuses_a_capture_of_a_person_who_withdrew_there(central, node):
    w, cs = central.world, central.s
    visit, view = enroll(node.s, w.registrar, card_number="NK8004")
    pid = view.person.id
    node.sync()
    withdraw_bio(cs, w.registrar, view)  # centrally; the node has not pulled it yet
    NodeSync(node.s.deps, node.id).capture(w.registrar, visit.id, BIO, pid, "fingerprint", "right_index", IMAGE)
    # push the capture alone (the node's next sync would pull the withdrawal after pushing)
    node.s_sync = NodeSync(node.s.deps, node.id)
    node.s_sync.build_batch()
    node.s_sync.send_outbox(node.link)
    assert cs.sync.captures(w.admin) == []
    with central.app.database.uow() as uow:
        denied = [e.event for e in uow.access_log.latest(50) if e.event.action == "sync_capture"]
    assert denied and denied[0].outcome == "denied"


# -- programs are walls, for nodes too ---------------------------------------------------------------------------


def _batch(node, changes, captures=()):
    """The node's next batch with the given changes (its log part valid: nothing new, its current head)."""
    from carekey.services.transparency import publish_head

    node.sync()
    with node.uow() as uow:
        state = uow.sync.node_state()
        sth = publish_head(uow, node.s.deps)
        uow.commit()
    return {
        "node_id": node.id,
        "seq": state.acked_seq + 1,
        "prev_hash": state.acked_hash,
        "created_at": "2026-11-30T00:00:00+00:00",
        "changes": list(changes),
        "captures": list(captures),
        "log": {"start": state.log_pushed, "entries": [], "head": sth.to_dict(), "proof": []},
    }


def test_a_node_cannot_enroll_a_person_into_another_program(central, node):
    w, cs = central.world, central.s
    cs.admin.create_program(LOCAL_OPERATOR, Program("other", "Other program", ("v1",), ("en",)))
    cs.admin.add_site(LOCAL_OPERATOR, Site("east", "other", "East", "Eastern"))
    _, view = enroll(node.s, w.registrar, card_number="NK8005")
    with node.uow() as uow:
        from carekey.services.sync_records import snapshot

        snap = snapshot(uow, node.s.deps, view.person.id, with_pin=False)
    forged = snap | {"id": "CK-FORG-ED01", "program_id": "other"}
    answer = node.link.call("POST", "/sync/push", canonical(_batch(node, [forged])))
    assert "CK-FORG-ED01" in answer["review"]
    with central.app.database.uow() as uow:
        assert uow.people.get("CK-FORG-ED01") is None


# -- malformed input from a node holding its key: 4xx, never 500 -------------------------------------------------


@pytest.mark.parametrize(
    "changes, captures",
    [
        ([1], []),
        (["person"], []),
        ([{"kind": "person", "id": "CK-NEW0-0001", "enrolled_site": "north", "program_id": "demo"}], []),
        ([{"kind": "person", "id": "CK-NEW0-0002", "enrolled_site": "north", "person": "x", "program_id": "demo"}], []),
        ([], ["capture"]),
        ([], [{"id": "CP-1"}]),
    ],
)
def test_a_malformed_batch_is_a_422_not_a_500(central, node, changes, captures):
    body = canonical(_batch(node, changes, captures))
    status, detail = signed_status(node, "POST", "/sync/push", body)
    assert status == 422, detail
    expected = _batch(node, [])["seq"] - 1  # nothing of the batch was applied: still the node's last batch
    with central.app.database.uow() as uow:
        assert uow.sync.get_node(node.id).last_seq == expected


def test_a_huge_or_negative_cursor_is_a_4xx(central, node):
    for after in ("99999999999999999999999999", "-1", "x"):
        status, detail = signed_status(node, "GET", f"/sync/changes?after={after}")
        assert status == 422, detail


def test_an_existing_node_id_cannot_be_registered_again_with_another_key(central, node):
    from carekey.crypto.nodekeys import NodeKey
    from carekey.services.sync_central import registration_bytes

    with central.app.database.uow() as uow:
        before = uow.sync.get_node(node.id)
    thief = NodeKey.generate()
    body = {
        "node_id": node.id,
        "site_id": "south",
        "public_key": thief.public_key.hex(),
        "log_public_key": "cd" * 32,
        "code_hash": "ef" * 32,
    }
    r = httpx.post(f"{central.base}/sync/register", json=body, headers={"X-Carekey-Signature": "00" * 64})
    assert r.status_code == 401  # not signed by the key it registers
    signed = thief.sign(registration_bytes(node.id, "south", body["public_key"], body["log_public_key"], "ef" * 32))
    r = httpx.post(f"{central.base}/sync/register", json=body, headers={"X-Carekey-Signature": signed.hex()})
    assert r.status_code == 409
    with central.app.database.uow() as uow:
        after = uow.sync.get_node(node.id)
    assert after == before  # the active node keeps its key and site


def test_a_pull_carries_no_pin_hash_template_or_private_key(central, node):
    w, cs = central.world, central.s
    _, view = enroll(cs, w.registrar, card_number="NK8006")
    pid = view.person.id
    add_central_template(central, pid)
    answer = node.link.call("GET", "/sync/changes?after=0")
    text = canonical(answer).decode()
    assert pid in text  # the north person is in the catchment
    sent = next(c for c in answer["changes"] if c.get("id") == pid)
    assert sent["pin_hash"] is None and "template" not in text and "protected" not in text
    assert "private" not in text and "secret" not in text
    for user in answer["meta"]["users"]:
        assert user["password_hash"] is None or "north" in user["site_ids"]


# -- what an erasure leaves in the node's data folder ------------------------------------------------------------


def test_an_erasure_on_the_node_leaves_no_clear_copy_in_an_unsent_batch(central, node):
    from carekey.errors import UpstreamFailed
    from carekey.services.people import erase_person

    w = central.world
    _, view = enroll(node.s, w.registrar, card_number="NK8101", given_name="Nyamekye")
    with pytest.raises(UpstreamFailed):
        node.sync(base.Unreachable())  # the batch is built, the network is down
    with node.uow() as uow:
        erase_person(uow, node.s.deps, view.person.id)
        uow.commit()
    with sqlite3.connect(node.settings.data_dir / "carekey.db") as db:
        bodies = b"".join(bytes(r[0]) for r in db.execute("SELECT body FROM node_outbox"))
    assert b'"sealed"' in bodies  # the batch waits, built, in the outbox: its records sealed to the central registry
    assert b"Nyamekye" not in bodies and b"NK8101" not in bodies and view.person.id.encode() not in bodies


def test_once_the_node_applied_an_erasure_the_sync_tables_keep_no_trace_of_the_person(central, node):
    import sqlalchemy as sa

    from carekey.services.people import erase_person

    w, cs = central.world, central.s
    visit, view = enroll(node.s, w.registrar, card_number="NK8201")
    pid = view.person.id
    node.sync()
    withdraw_bio(cs, w.registrar, view)
    NodeSync(node.s.deps, node.id).capture(w.registrar, visit.id, BIO, pid, "fingerprint", "right_index", IMAGE)
    sync = NodeSync(node.s.deps, node.id)
    sync.build_batch()
    assert pid in sync.send_outbox(node.link)[2]  # the refused capture comes back for review
    with central.app.database.uow() as uow:
        erase_person(uow, cs.deps, pid)
        uow.commit()
    node.sync()  # the node applies the erasure
    node.sync()  # and acknowledges it: applied everywhere
    assert cs.sync.stale(w.admin) == []
    tables = ("sync_batches", "sync_feed", "sync_holdings", "sync_nodes", "sync_captures", "sync_nonces")
    with central.app.database.engine.connect() as conn:
        for table in tables:
            rows = conn.execute(sa.text(f"SELECT * FROM {table}")).fetchall()  # noqa: S608 - fixed names
            assert not any(pid in str(value) for row in rows for value in row), table


def test_an_offline_capture_reaches_only_the_person_the_visit_found(central, node):
    from carekey.errors import Forbidden, NotFound

    w = central.world
    _, view = enroll(node.s, w.registrar, card_number="NK8301")
    sync = NodeSync(node.s.deps, node.id)
    empty = node.s.visits.open(w.registrar, "north")  # a person id learned elsewhere, no lookup in this visit
    with pytest.raises(Forbidden):
        sync.capture(w.registrar, empty.id, BIO, view.person.id, "fingerprint", "right_index", IMAGE)
    with pytest.raises((Forbidden, NotFound)):  # another site's staff, and the admin
        sync.capture(w.registrar_south, empty.id, BIO, view.person.id, "fingerprint", "right_index", IMAGE)
    with pytest.raises(Forbidden):
        sync.capture(w.admin, empty.id, BIO, view.person.id, "fingerprint", "right_index", IMAGE)
    assert node_captures(node) == []


def _registration(node_id: str, site: str = "south"):
    from carekey.crypto.nodekeys import NodeKey
    from carekey.services.sync_central import registration_bytes

    key = NodeKey.generate()
    body = {
        "node_id": node_id,
        "site_id": site,
        "public_key": key.public_key.hex(),
        "log_public_key": "cd" * 32,
        "code_hash": "ef" * 32,
    }
    sig = key.sign(registration_bytes(node_id, site, body["public_key"], body["log_public_key"], body["code_hash"]))
    return body, {"X-Carekey-Signature": sig.hex()}


def test_a_flood_of_registrations_is_bounded_per_site_and_unapproved_ones_expire(central):
    """Registration needs no account: anyone reaching the registry can send validly signed ones. A site's waiting
    list is bounded (the flood gets 429 with Retry-After, each refusal logged), and a registration not approved
    within PENDING_TTL is revoked at the next registration for its site, which then goes through."""
    from carekey.policy.nodes import MAX_PENDING_PER_SITE, PENDING_TTL

    clock = central.s.deps.clock
    clock.now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    for i in range(MAX_PENDING_PER_SITE):
        body, headers = _registration(f"flood-{i}")
        r = httpx.post(f"{central.base}/sync/register", json=body, headers=headers)
        assert r.status_code == 200, r.text
    body, headers = _registration("flood-extra")
    r = httpx.post(f"{central.base}/sync/register", json=body, headers=headers)
    assert r.status_code == 429 and "wait for approval" in r.json()["detail"]
    assert 0 < int(r.headers["Retry-After"]) <= PENDING_TTL.total_seconds() + 1
    other, other_headers = _registration("other-site", "north")
    r = httpx.post(f"{central.base}/sync/register", json=other, headers=other_headers)
    assert r.status_code == 200, r.text  # another site's waiting list is its own
    with central.app.database.uow() as uow:
        assert uow.sync.get_node("flood-extra") is None
        assert len(uow.sync.pending_nodes("south")) == MAX_PENDING_PER_SITE
        events = [e.event for e in uow.access_log.latest(50)]
    assert any(
        e.action == "node_register" and e.outcome == "denied" and e.actor_id == "node-flood-extra" for e in events
    )

    clock.now += PENDING_TTL + timedelta(minutes=1)
    r = httpx.post(f"{central.base}/sync/register", json=body, headers=headers)
    assert r.status_code == 200, r.text
    with central.app.database.uow() as uow:
        assert [n.id for n in uow.sync.pending_nodes("south")] == ["flood-extra"]
        assert uow.sync.get_node("flood-0").status == "revoked"  # expired, kept for the audit, id not reusable
