"""`carekey log witness URL --out FILE`: accepts heads that extend the one it holds (consistency proof), refuses
a log that was cut or rewritten on the server even when the server's own heads were rewritten with it."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from carekey.audit.sth import LogSigner
from carekey.audit.witness import judge
from carekey.interfaces.api.app import create_app
from carekey.interfaces.cli import log as log_cli
from tests.e2e.test_cli import ck
from tests.faults import tamper
from tests.faults.test_log_tail_cut import busy

pytestmark = pytest.mark.faults


@pytest.fixture
def served(app, world, monkeypatch):
    monkeypatch.setattr(log_cli, "http_client", lambda url: TestClient(create_app(app.settings, built=app, web=False)))
    return app


def witness(out):
    return ck("log", "witness", "http://testserver", "--out", out)


def test_witness_accepts_growth_and_refuses_a_rewritten_log(served, world, tmp_path):
    app, out = served, tmp_path / "witnessed.jsonl"
    busy(app, world, 4)
    r = witness(out)
    assert r.exit_code == 0 and "ACCEPTED" in r.output, r.output
    busy(app, world, 2, 10)  # the log grows: consistent
    r = witness(out)
    assert r.exit_code == 0 and "consistent" in r.output, r.output
    assert witness(out).exit_code == 0  # unchanged: nothing appended
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and out.stat().st_mode & 0o777 == 0o600
    held_size = json.loads(lines[-1])["signed_tree_head"]["tree_size"]

    # an attacker who owns the server cuts the tail, rebuilds the tree, replaces the heads file and the database's
    # heads, then lets the server sign the shortened tree with the real key: the witness refuses it
    tamper.cut_tail(app.database.engine, 25)
    tamper.rebuild_nodes(app.database.engine)
    tamper.drop_heads(app.database.engine)
    heads = app.settings.resolved_heads_file()
    heads.unlink()
    app.services.deps.heads = type(app.services.deps.heads)(heads)
    app.services.deps.heads.create()
    r = witness(out)
    assert r.exit_code == 8 and "shrank" in r.output, r.output
    busy(app, world, 6, 20)  # ...and grows it past the held size: still no consistency proof
    r = witness(out)
    assert r.exit_code == 8 and "consistency" in r.output, r.output
    assert len(out.read_text().splitlines()) == 2  # nothing refused was kept
    assert json.loads(out.read_text().splitlines()[-1])["signed_tree_head"]["tree_size"] == held_size


def test_witness_refuses_a_head_signed_by_another_key(served, world, tmp_path):
    app, out = served, tmp_path / "witnessed.jsonl"
    busy(app, world, 1)
    assert witness(out).exit_code == 0
    other = LogSigner.generate()
    r = ck(
        "log",
        "witness",
        "http://testserver",
        "--out",
        tmp_path / "pinned.jsonl",
        "--public-key",
        other.public_key.hex(),
    )
    assert r.exit_code == 8 and "signature" in r.output, r.output


def test_judge_same_size_other_root():
    signer = LogSigner.generate()
    a, b = signer.sign(5, b"\x01" * 32, 1), signer.sign(5, b"\x02" * 32, 2)
    verdict = judge(a, signer.public_key, b, lambda m, n: [])
    assert not verdict.accepted and "rewritten" in verdict.reason
    assert judge(a, signer.public_key, signer.sign(5, b"\x01" * 32, 3), lambda m, n: []).accepted
