"""``carekey matcher init`` / ``serve`` / ``receipts`` as an operator runs them: the matcher a separate process
(a subprocess on loopback TCP), the registry calling it, the receipts the matcher spent handed to the auditor
(``log verify --promises``: every one names an entry of the log)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from carekey import bootstrap
from carekey.config import Settings
from carekey.interfaces.cli.log import read_promises
from carekey.interfaces.cli.main import app as cli
from carekey.services.matcher_remote import RemoteMatcher
from tests.conftest import Clock, make_world
from tests.integration.helpers import enroll

runner = CliRunner()
FINGERS = Path(__file__).resolve().parents[1] / "fixtures" / "fingerprint"
BIO = "biometric_identification"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def matcher_process(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREKEY_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CAREKEY_ARGON2_MEMORY_KIB", "64")
    monkeypatch.delenv("CAREKEY_DATABASE_URL", raising=False)
    data, mdata, port = tmp_path / "var", tmp_path / "matcher", free_port()
    assert runner.invoke(cli, ["init", "--data", str(data)]).exit_code == 0
    r = runner.invoke(
        cli, ["matcher", "init", "--data", str(data), "--matcher-data", str(mdata), "--url", f"http://127.0.0.1:{port}"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["biometric_key_version"] == 1
    log = (tmp_path / "matcher.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "carekey", "matcher", "serve", "--matcher-data", str(mdata), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "matcher.log").read_text()) from None
                time.sleep(0.2)
        yield data, mdata, health
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_matcher_serve_as_its_own_process(matcher_process):
    data, mdata, health = matcher_process
    assert health["status"] == "ok" and health["key_version"] == 1 and health["templates"] == 0
    assert health["receipts"]["refused_total"] == 0
    settings = Settings(data_dir=data, argon2_time_cost=1, argon2_memory_kib=64)
    app = bootstrap.build(settings)
    try:
        assert isinstance(app.services.biometrics.matcher, RemoteMatcher)
        app.services.deps.clock = Clock()
        world = make_world(app.services)
        s = app.services
        visit, ama = enroll(s, world.registrar)
        image = (FINGERS / "db1_101_1.tif").read_bytes()
        s.biometrics.enroll(world.registrar, visit.id, BIO, ama.person.id, "fingerprint", "right_index", image)
        nxt = s.visits.open(world.registrar, "north")
        probe = (FINGERS / "db1_101_2.tif").read_bytes()
        hits = s.biometrics.identify(world.registrar, nxt.id, BIO, "fingerprint", probe, person_agreed=True)
        assert [c.person_id for c in hits] == [ama.person.id]

        r = runner.invoke(cli, ["matcher", "receipts", "--matcher-data", str(mdata)])
        assert r.exit_code == 0, r.output
        saved = data.parent / "matcher-promises.jsonl"
        saved.write_text(r.output)
        promises = read_promises(saved)
        assert len(promises) == 2  # one enrollment entry (two steps), one identification entry
        report = s.audit.verify(world.auditor, "audit", (), True, promises)
        assert report.ok, report.to_dict()
    finally:
        app.close()


def test_matcher_rotate_key_through_the_cli(tmp_path, monkeypatch):
    """`carekey matcher rotate-key`: the next key version in the matcher's own key file (0600, a new secret); the
    registry's key file is untouched until `keys rotate-biometric` reads the restarted matcher's version."""
    import stat

    from carekey.crypto.keys import load_key_file, load_matcher_key_file

    monkeypatch.setenv("CAREKEY_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CAREKEY_ARGON2_MEMORY_KIB", "64")
    monkeypatch.delenv("CAREKEY_DATABASE_URL", raising=False)
    data, mdata = tmp_path / "var", tmp_path / "matcher"
    assert runner.invoke(cli, ["init", "--data", str(data)]).exit_code == 0
    r = runner.invoke(cli, ["matcher", "init", "--data", str(data), "--matcher-data", str(mdata)])
    assert r.exit_code == 0, r.output
    before = load_matcher_key_file(mdata / "matcher.keys")
    r = runner.invoke(cli, ["matcher", "rotate-key", "--matcher-data", str(mdata)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["biometric_key_version"] == 2
    after = load_matcher_key_file(mdata / "matcher.keys")
    assert after.biometric_version == 2 and after.biometric_secret != before.biometric_secret
    assert stat.S_IMODE((mdata / "matcher.keys").stat().st_mode) == 0o600
    assert load_key_file(data / "carekey.keys").biometric_version == 1
    # the matcher is not running: the registry cannot learn the new version and keeps its own
    r = runner.invoke(cli, ["keys", "rotate-biometric", "--data", str(data)])
    assert r.exit_code != 0 and "matcher" in r.output.lower()
    assert load_key_file(data / "carekey.keys").biometric_version == 1
