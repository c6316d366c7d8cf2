"""``carekey keys rotate-biometric`` and key files from before template protection."""

import json
import stat

import pytest
from typer.testing import CliRunner

from carekey.crypto.keys import load_key_file
from carekey.interfaces.cli.main import app

runner = CliRunner()


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.delenv("CAREKEY_DATABASE_URL", raising=False)
    d = tmp_path / "var"
    assert runner.invoke(app, ["init", "--data", str(d)]).exit_code == 0
    return d


def test_init_creates_a_biometric_secret_and_rotation_replaces_it(data):
    before = load_key_file(data / "carekey.keys")
    assert before.biometric_version == 1 and len(before.biometric_secret) == 32
    r = runner.invoke(app, ["keys", "rotate-biometric", "--data", str(data)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["biometric_key_version"] == 2
    after = load_key_file(data / "carekey.keys")
    assert after.biometric_version == 2 and after.biometric_secret != before.biometric_secret
    assert (after.kek, after.index_key) == (before.kek, before.index_key)  # records stay readable
    assert stat.S_IMODE((data / "carekey.keys").stat().st_mode) == 0o600


def test_old_key_file_gets_a_biometric_secret_on_start(data):
    path = data / "carekey.keys"
    doc = json.loads(path.read_text())
    doc.pop("biometric_secret"), doc.pop("biometric_version")
    path.write_text(json.dumps(doc))
    assert load_key_file(path).biometric_secret is None
    r = runner.invoke(app, ["retention", "run", "--data", str(data), "--dry-run"])
    assert r.exit_code == 0, r.output
    keys = load_key_file(path)
    assert keys.biometric_version == 1 and len(keys.biometric_secret) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_tampered_biometric_entry_is_refused(data):
    path = data / "carekey.keys"
    doc = json.loads(path.read_text())
    doc["biometric_version"] = 0
    path.write_text(json.dumps(doc))
    r = runner.invoke(app, ["keys", "rotate-biometric", "--data", str(data)])
    assert r.exit_code != 0 and "biometric" in (r.output + str(r.exception))
