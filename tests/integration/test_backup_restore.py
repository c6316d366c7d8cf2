"""Backup -> verify -> restore, on SQLite and PostgreSQL: the restored folder verifies its log and opens a person;
a wrong passphrase, a changed byte or a cut file is refused; every file written is mode 0600."""

from __future__ import annotations

import stat

import pytest

from carekey import bootstrap
from carekey.config import Settings
from carekey.crypto.sealed import KdfParams
from carekey.errors import Conflict, InvalidInput
from carekey.storage import backup
from tests.conftest import reset_pg
from tests.integration.helpers import CARE, enroll

PASS = "a long backup passphrase"
FAST = KdfParams(n=2**14)  # the CLI uses 2**17; the format stores whichever was used


def mode(path) -> int:  # type: ignore[no-untyped-def]
    return stat.S_IMODE(path.stat().st_mode)


def test_backup_verify_restore_round_trip(app, world, settings, tmp_path):
    s = app.services
    visit, view = enroll(s, world.registrar)
    pid = view.person.id
    s.exams.record(world.clinician, visit.id, CARE, pid, {"systolic_bp": 148, "diastolic_bp": 92})
    s.transparency.tree_head()
    out = tmp_path / "site.ckbackup"
    manifest = backup.create(settings, out, PASS, FAST)  # online: the app is open
    assert mode(out) == 0o600 and not out.with_name(out.name + ".partial").exists()
    assert set(manifest["files"]) >= {"carekey.keys", "carekey.keystore", "carekey.log.key"}
    assert backup.describe(out)["database"] == manifest["database"]  # readable without the passphrase
    report = backup.verify(out, PASS)
    assert report["ok"] and report["shred_secrets"] == 1
    with pytest.raises(Conflict, match="exists"):
        backup.create(settings, out, PASS, FAST)

    url = settings.resolved_database_url()
    if url.startswith("postgresql"):  # restore into an empty database
        app.database.dispose()
        reset_pg(url)
    target = Settings(
        data_dir=tmp_path / "restored",
        database_url=None if url.startswith("sqlite") else url,
        argon2_time_cost=1,
        argon2_memory_kib=64,
    )
    restored = backup.restore(out, PASS, target)
    assert restored["database"] == manifest["database"]
    for f in (target.resolved_key_file(), target.resolved_key_store(), target.resolved_log_key_file()):
        assert mode(f) == 0o600, f
    if url.startswith("sqlite"):
        assert mode(target.data_dir / "carekey.db") == 0o600
    built = bootstrap.build(target)
    try:
        log = built.services.audit.verify(world.auditor, "audit")
        assert log.ok and log.entries >= 3, log  # enroll, exam, and this audit
        again = built.services.visits.open(world.registrar, "north")
        found = built.services.lookup.by_card(world.registrar, again.id, CARE, "NK1001")
        assert [c.person_id for c in found] == [pid]
        person = built.services.people.read(world.registrar, again.id, CARE, pid).person
        assert person.full_name == "Ama Mensah" and person.card_number == "NK1001"
    finally:
        built.close()
    with pytest.raises(Conflict, match="empty data folder"):
        backup.restore(out, PASS, target)


def test_wrong_passphrase_changed_byte_and_cut_file_are_refused(app, world, settings, tmp_path):
    out = tmp_path / "b.ckbackup"
    backup.create(settings, out, PASS, FAST)
    with pytest.raises(InvalidInput, match="wrong passphrase"):
        backup.verify(out, "not the passphrase at all")
    data = out.read_bytes()
    changed = tmp_path / "changed.ckbackup"
    changed.write_bytes(data[:-40] + bytes([data[-40] ^ 1]) + data[-39:])
    with pytest.raises(InvalidInput, match="changed|fails its authentication"):
        backup.verify(changed, PASS)
    cut = tmp_path / "cut.ckbackup"
    cut.write_bytes(data[: len(data) - 100])
    with pytest.raises(InvalidInput, match="cut short|truncated"):
        backup.verify(cut, PASS)
    with pytest.raises(InvalidInput, match="not a carekey backup"):
        backup.verify(settings.resolved_key_file(), PASS)
    with pytest.raises(InvalidInput, match="at least 12"):
        backup.create(settings, tmp_path / "short.ckbackup", "short", FAST)


def test_sqlite_database_wal_and_shm_are_created_0600(tmp_path):
    settings = Settings(data_dir=tmp_path / "d", argon2_time_cost=1, argon2_memory_kib=64)
    bootstrap.initialize(settings)
    built = bootstrap.build(settings)
    try:
        with built.database.uow() as uow:  # a write: the WAL and SHM files exist while the engine is open
            assert uow.people.count() == 0
        files = [
            settings.data_dir / n
            for n in (
                "carekey.db",
                "carekey.db-wal",
                "carekey.db-shm",
                "carekey.keys",
                "carekey.keystore",
                "carekey.log.key",
            )
        ]
        assert all(f.exists() for f in files), [f.name for f in files if not f.exists()]
        assert {f.name: oct(mode(f)) for f in files} == {f.name: "0o600" for f in files}
    finally:
        built.close()
    (settings.data_dir / "carekey.db").chmod(0o644)  # an older folder: tightened on the next start
    bootstrap.build(settings).close()
    assert mode(settings.data_dir / "carekey.db") == 0o600
