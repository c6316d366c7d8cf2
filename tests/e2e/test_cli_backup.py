"""`carekey backup --out`, `carekey backup verify`, `carekey restore` through the CLI runner (SQLite)."""

from __future__ import annotations

import json
import stat

from typer.testing import CliRunner

from carekey.interfaces.cli.main import app

PASS = "a long backup passphrase"


def test_backup_verify_and_restore_commands(tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("CAREKEY_BACKUP_PASSPHRASE", PASS)
    monkeypatch.setenv("CAREKEY_DATA_DIR", str(tmp_path / "site"))
    assert runner.invoke(app, ["init"]).exit_code == 0
    out = tmp_path / "site.ckbackup"
    r = runner.invoke(app, ["backup", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "mode 0600" in r.output and stat.S_IMODE(out.stat().st_mode) == 0o600
    r = runner.invoke(app, ["backup"])
    assert r.exit_code == 2 and "--out" in r.output
    r = runner.invoke(app, ["backup", "verify", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["ok"] is True
    r = runner.invoke(app, ["restore", str(out), "--data", str(tmp_path / "restored")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "restored" / "carekey.keys").exists()
    r = runner.invoke(app, ["restore", str(out), "--data", str(tmp_path / "restored")])
    assert r.exit_code == 7 and "empty data folder" in r.output  # Conflict: never overwrites
    monkeypatch.setenv("CAREKEY_BACKUP_PASSPHRASE", "another long passphrase")
    r = runner.invoke(app, ["backup", "verify", str(out)])
    assert r.exit_code == 3 and "wrong passphrase" in r.output
