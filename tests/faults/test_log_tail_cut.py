"""The log's tail cannot be cut unnoticed (issue 14, "The log"): with the heads file outside the database,
`log verify` fails by default (no --heads needed) after (a) the last 25 entries are deleted with their nodes and
the newer heads, (b) every head is deleted, (c) one entry is rewritten with a new salt and rebuilt nodes; and the
server refuses to sign (or start on) such a log. On SQLite and PostgreSQL (service level) and through the CLI."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from carekey.errors import IntegrityError
from carekey.interfaces.api.app import create_app
from tests.e2e.test_cli import ck, data  # noqa: F401 - fixture reused
from tests.faults import tamper
from tests.integration.helpers import CARE, enroll

pytestmark = pytest.mark.faults


def busy(app, world, people, first=0):
    s = app.services
    for i in range(first, first + people):
        visit, view = enroll(s, world.registrar, card_number=f"NK3{i:03d}", given_name=f"P{i}")
        for _ in range(3):
            s.people.read(world.registrar, visit.id, CARE, view.person.id)
        s.exams.record(world.clinician, visit.id, CARE, view.person.id, {"systolic_bp": 120, "diastolic_bp": 80})
        s.transparency.tree_head()  # what the server does after each write batch


ATTACKS = {
    "tail_cut": lambda app: tamper.cut_tail(app.database.engine, 25),
    "heads_dropped": lambda app: tamper.drop_heads(app.database.engine),
    "entry_rewritten": lambda app: tamper.rewrite_entry(app.database.uow, app.database.engine, 7),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_verify_detects_without_saved_heads(app, world, attack):
    busy(app, world, 8)
    assert app.services.audit.verify(world.auditor, "audit").ok
    ATTACKS[attack](app)
    report = app.services.audit.verify(world.auditor, "audit")
    assert not report.ok, attack
    expected = {"removed", "root_mismatch", "node_store_mismatch", "modified", "heads_removed"}
    assert report.kinds() & expected, report.problems
    # the database alone (as before the heads file) cannot tell a cut tail; a rewritten entry no longer matches
    # the entry promise stored beside it, which the attacker cannot re-sign without the log key
    if attack == "tail_cut":
        assert app.services.audit.verify(world.auditor, "audit", heads_file=False).ok
    if attack == "entry_rewritten":
        assert app.services.audit.verify(world.auditor, "audit", heads_file=False).kinds() == {"bad_promise"}


@pytest.mark.parametrize("attack", ["tail_cut", "entry_rewritten"])
def test_server_refuses_to_sign_or_start_on_a_cut_log(app, world, attack):
    busy(app, world, 8)
    ATTACKS[attack](app)
    with pytest.raises(IntegrityError, match="does not extend"):
        app.services.transparency.tree_head()
    with pytest.raises(IntegrityError):
        create_app(app.settings, built=app, web=False)


def test_publish_if_due_refuses_too(app, world):
    busy(app, world, 8)
    tamper.cut_tail(app.database.engine, 25)
    app.settings.tree_head_seconds = 0
    enroll(app.services, world.registrar, card_number="NK3999")  # the cut log keeps growing...
    with pytest.raises(IntegrityError):  # ...but is never signed
        app.services.transparency.publish_if_due()


def test_missing_heads_file_is_a_verification_failure_and_blocks_signing(app, world):
    busy(app, world, 2)
    app.settings.resolved_heads_file().unlink()
    report = app.services.audit.verify(world.auditor, "audit")
    assert "heads_file_missing" in report.kinds()
    with pytest.raises(IntegrityError, match="missing"):
        app.services.transparency.tree_head()


def test_heads_file_is_0600_and_holds_every_head(app, world):
    busy(app, world, 3)
    path = app.settings.resolved_heads_file()
    assert path.stat().st_mode & 0o777 == 0o600
    with app.database.uow() as uow:
        stored = uow.tree_heads.all()
    assert app.services.transparency.heads() == stored
    in_file = app.services.deps.heads.read()
    assert [h.signature for h in in_file] == [h.signature for h in stored] and len(stored) >= 3


def test_history_route(app, world):
    busy(app, world, 3)
    with TestClient(create_app(app.settings, built=app, web=False)) as client:
        r = client.get("/transparency/tree-heads", params={"limit": 2})
        assert r.status_code == 200
        body = r.json()
        assert len(body["signed_tree_heads"]) == 2 and body["public_key"]
        assert client.get("/transparency/tree-heads", params={"limit": 0}).status_code == 422
        assert "signed_tree_head" in client.get("/transparency/tree-head").json()  # the old route is unchanged


@pytest.fixture
def demo(data):  # noqa: F811
    r = ck("demo", "--data", data, "--people", 40)
    assert r.exit_code == 0, r.output
    return data


def _auditor(d):
    return {u: p for u, _, p in (line.split("\t") for line in (d / "demo-users.txt").read_text().splitlines())}[
        "auditor"
    ]


def _cli_tamper(d, attack):
    import sqlalchemy as sa

    from carekey.storage.database import Database

    db = Database(f"sqlite:///{d / 'carekey.db'}")
    try:
        if attack == "tail_cut":
            tamper.cut_tail(db.engine, 25)
        elif attack == "heads_dropped":
            tamper.drop_heads(db.engine)
        else:
            tamper.rewrite_entry(db.uow, db.engine, 3)
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM access_log")).scalar_one() > 0
    finally:
        db.dispose()


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_cli_log_verify_fails_without_heads_option(demo, attack):
    pw = _auditor(demo)
    for _ in range(2):  # two heads, the second over more entries
        assert ck("log", "head", "--data", demo).exit_code == 0
        assert ck("log", "verify", "--data", demo, "--user", "auditor", password=pw).exit_code == 0
    assert tamper.log_size(_engine(demo)) > 30
    _cli_tamper(demo, attack)
    r = ck("log", "verify", "--data", demo, "--user", "auditor", password=pw)
    assert r.exit_code == 8, r.output
    assert json.loads(r.stdout)["ok"] is False
    r = ck("log", "head", "--data", demo)
    signs = attack == "heads_dropped"  # nothing cut: the tree still extends the heads in the file
    assert (r.exit_code == 0) is signs, r.output


def _engine(d):
    import sqlalchemy as sa

    return sa.create_engine(f"sqlite:///{d / 'carekey.db'}")
