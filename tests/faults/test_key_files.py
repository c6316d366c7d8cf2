"""Fail closed on keys: each key file deleted, truncated or bit-flipped, replaced by another folder's, or the
database deleted while the keys exist: the app and every command refuse to start (exit code 9) with a message
naming the file and what to restore, and nothing is created or changed; `init --if-missing` never makes new keys
next to an existing database."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from typer.testing import CliRunner

from carekey import bootstrap
from carekey.audit.sth import LogSigner
from carekey.config import Settings
from carekey.errors import KeyCheckFailed
from carekey.interfaces.cli.main import app as cli
from tests.conftest import make_world
from tests.integration.helpers import enroll

pytestmark = pytest.mark.faults
FILES = {"keys": "carekey.keys", "keystore": "carekey.keystore", "log_key": "carekey.log.key"}


@pytest.fixture
def populated(folder):
    """A data folder holding a person and a signed tree head under its three key files."""
    built = bootstrap.build(folder)
    world = make_world(built.services)
    enroll(built.services, world.registrar)
    built.services.transparency.tree_head()
    built.close()
    return folder


def run(*args):
    return CliRunner().invoke(cli, list(args))


def refuses(settings: Settings, mentions: str) -> None:
    """Both ways in refuse: the composition root (what `serve` calls) and a command, exit code 9."""
    with pytest.raises(KeyCheckFailed) as err:
        bootstrap.build(settings)
    message = err.value.message
    assert err.value.title.startswith("Refusing to start") and mentions in message and "restore" in message.lower()
    result = run("transparency", "refusals", "--data", str(settings.data_dir))
    assert result.exit_code == 9, result.output
    assert "Refusing to start" in result.output and mentions in result.output


def flip_bit(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x04]) + data[at + 1 :]


def corrupt(path, how: str) -> None:
    data = path.read_bytes()
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "emptied":
        path.write_bytes(b"")
    elif path.name == "carekey.keys":  # a bit of the key-encryption key itself
        at = data.index(json.loads(data)["kek"].encode()) + 5
        path.write_bytes(flip_bit(data, at))
    elif path.name == "carekey.keystore":  # a bit of the store's identity (the secrets' pages are alike)
        with sqlite3.connect(path) as db:
            ident = bytes(db.execute("SELECT value FROM meta WHERE name = 'store_id'").fetchone()[0])
        path.write_bytes(flip_bit(data, data.index(ident) + 3))
    else:  # the log key: hex text
        path.write_bytes(flip_bit(data, 7))


@pytest.mark.parametrize("how", ["deleted", "truncated", "emptied", "bit-flipped"])
@pytest.mark.parametrize("which", sorted(FILES))
def test_a_damaged_key_file_refuses_start(populated, which, how):
    path = populated.data_dir / FILES[which]
    corrupt(path, how)
    before = sorted(p.name for p in populated.data_dir.iterdir())
    refuses(populated, FILES[which])
    assert sorted(p.name for p in populated.data_dir.iterdir()) == before  # nothing was recreated


@pytest.mark.parametrize("which", sorted(FILES))
def test_a_key_file_from_another_folder_refuses_start(populated, tmp_path, which):
    other = Settings(data_dir=tmp_path / "other", argon2_time_cost=1, argon2_memory_kib=64)
    bootstrap.initialize(other)
    shutil.copy2(other.data_dir / FILES[which], populated.data_dir / FILES[which])
    refuses(populated, FILES[which])


def test_a_deleted_database_with_keys_present_refuses_start_and_init_does_not_recreate_it(populated):
    for name in ("carekey.db", "carekey.db-wal", "carekey.db-shm"):
        (populated.data_dir / name).unlink(missing_ok=True)
    refuses(populated, "carekey.db")
    result = run("init", "--data", str(populated.data_dir), "--if-missing")
    assert result.exit_code == 9 and "missing" in result.output
    assert not (populated.data_dir / "carekey.db").exists()


def test_init_if_missing_never_creates_keys_next_to_an_existing_database(populated):
    intact = run("init", "--data", str(populated.data_dir), "--if-missing")  # what `make run` does every time
    assert intact.exit_code == 0 and "already initialized" in intact.output
    keys = populated.data_dir / "carekey.keys"
    keys.unlink()
    result = run("init", "--data", str(populated.data_dir), "--if-missing")
    assert result.exit_code == 9, result.output
    assert "never creates keys" in result.output and not keys.exists()
    refuses(populated, "carekey.keys")


def _auditor(built):
    from carekey.services.deps import Actor

    with built.database.uow() as uow:
        return next(Actor.of(u) for u in uow.users.list() if u.username == "auditor")


def test_a_replaced_log_key_needs_an_explicit_logged_rotation_signed_by_the_old_key(populated, tmp_path):
    key = populated.data_dir / "carekey.log.key"
    old = tmp_path / "old.log.key"
    shutil.copy2(key, old)
    key.unlink()
    LogSigner.generate().save(key)  # the replacement, put in place by hand
    refuses(populated, "carekey.log.key")

    lost = run("log", "rotate-key", "--data", str(populated.data_dir))  # without the old key: no way round
    assert lost.exit_code == 9 and "needs the old log key" in lost.output
    refuses(populated, "carekey.log.key")

    rotated = run("log", "rotate-key", "--data", str(populated.data_dir), "--old-key", str(old))
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.output)["new_key_id"] == LogSigner.load(key).key_id.hex()
    built = bootstrap.build(populated)
    try:
        built.services.transparency.tree_head()  # a head under the new key, after the ones under the old key
        with built.database.uow() as uow:
            assert len({h.key_id for h in uow.tree_heads.all()}) == 2
            assert [
                e.event.action
                for e in uow.access_log.entries(0, uow.access_log.size())
                if e.event.action == "log_key_rotate"
            ] == ["log_key_rotate"]
        report = built.services.audit.verify(_auditor(built), "audit")
        assert report.ok, report.to_dict()  # heads of both keys verify through the rotation
    finally:
        built.close()

    again = run("log", "rotate-key", "--data", str(populated.data_dir))  # the current key present: a fresh one
    assert again.exit_code == 0 and json.loads(again.output)["new_key_id"] == LogSigner.load(key).key_id.hex()
    bootstrap.build(populated).close()


def test_a_key_store_restored_from_an_older_backup_refuses_start(populated, tmp_path):
    store = populated.data_dir / "carekey.keystore"
    backup = tmp_path / "keystore.bak"
    shutil.copy2(store, backup)  # the backup, taken before the newest enrollments
    built = bootstrap.build(populated)
    try:
        world_actors = {u.username: u for u in built.services.admin.users(_admin(built))}
        assert "registrar" in world_actors
        from carekey.services.deps import Actor

        for i in range(3):
            enroll(built.services, Actor.of(world_actors["registrar"]), card_number=f"NK60{i}")
    finally:
        built.close()
    shutil.copy2(backup, store)
    refuses(populated, "carekey.keystore")


def _admin(built):
    from carekey.services.deps import Actor

    with built.database.uow() as uow:
        return next(Actor.of(u) for u in uow.users.list() if u.username == "admin")
