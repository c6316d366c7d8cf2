"""``carekey keys rotate-biometric|renew-biometric`` and key files from before template protection."""

import json
import stat
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from carekey import bootstrap
from carekey.config import Settings
from carekey.crypto.keys import load_key_file
from carekey.interfaces.cli.main import app
from tests.conftest import make_world
from tests.integration.helpers import ALL, CARE, consent, person_input
from tests.integration.test_protected_biometrics import BIO, image

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


def test_rotate_then_renew_from_kept_images_through_the_cli(data, monkeypatch):
    """People who opted in to kept images get templates of the new key version from `keys renew-biometric`
    (one logged access each); the others keep only retired templates until their next capture."""
    monkeypatch.setenv("CAREKEY_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CAREKEY_ARGON2_MEMORY_KIB", "64")
    built = bootstrap.build(Settings(data_dir=data))
    try:
        s = built.services
        world = make_world(s)
        ids = []
        for card, granted in (("NK1001", (*ALL, "biometric_image_retention")), ("NK1002", ALL)):
            visit = s.visits.open(world.registrar, "north")
            pid = s.people.enroll(
                world.registrar, visit.id, CARE, person_input(card_number=card), consent(granted), confirm_new=True
            ).person.id
            s.biometrics.enroll(
                world.registrar, visit.id, BIO, pid, "iris", "left", image("01_L_1"), override="false_match"
            )  # one fixture eye for several people
            ids.append(pid)
    finally:
        built.close()
    r = runner.invoke(app, ["keys", "rotate-biometric", "--data", str(data)])
    assert r.exit_code == 0 and "renew-biometric" in r.output, r.output
    r = runner.invoke(app, ["keys", "renew-biometric", "--data", str(data)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out == {"biometric_key_version": 2, "renewed": 1, "templates": 1, "skipped": 0, "failed": 0}
    built = bootstrap.build(Settings(data_dir=data))
    try:
        with built.database.uow() as uow:
            assert [t.key_version for t in uow.biometrics.for_person(ids[0])] == [2]
            assert [t.key_version for t in uow.biometrics.for_person(ids[1])] == [1]
            assert [e.event.action for e in uow.access_log.for_person(ids[0])].count("renew_biometric") == 1
    finally:
        built.close()
    r = runner.invoke(app, ["keys", "rotate-biometric", "--renew", "--data", str(data)])
    assert r.exit_code == 0 and '"renewed": 1' in r.output, r.output


def test_renewal_failures_are_counted_without_naming_anyone(data, monkeypatch):
    """The admin sees counts only; a person whose kept image cannot be renewed finds it in their own access log."""
    monkeypatch.setenv("CAREKEY_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CAREKEY_ARGON2_MEMORY_KIB", "64")
    built = bootstrap.build(Settings(data_dir=data))
    try:
        s = built.services
        world = make_world(s)
        ids = []
        for card in ("NK1001", "NK1002"):
            visit = s.visits.open(world.registrar, "north")
            pid = s.people.enroll(
                world.registrar,
                visit.id,
                CARE,
                person_input(card_number=card),
                consent((*ALL, "biometric_image_retention")),
                confirm_new=True,
            ).person.id
            s.biometrics.enroll(
                world.registrar, visit.id, BIO, pid, "iris", "left", image("01_L_1"), override="false_match"
            )  # one fixture eye for several people
            ids.append(pid)
        with built.database.uow() as uow:  # the second person's kept image: tampered ciphertext
            [kept] = uow.images.for_person(ids[1])
            uow.images.delete_for_person(ids[1])
            uow.images.add(
                replace(
                    kept, ciphertext=kept.ciphertext[:40] + bytes([kept.ciphertext[40] ^ 0xFF]) + kept.ciphertext[41:]
                )
            )
            uow.commit()
    finally:
        built.close()
    r = runner.invoke(app, ["keys", "rotate-biometric", "--renew", "--data", str(data)])
    assert r.exit_code == 1, r.output
    out = json.loads(r.output[r.output.index("{", r.output.index("}")) : r.output.rindex("}") + 1])
    assert out == {"biometric_key_version": 2, "renewed": 1, "templates": 1, "skipped": 0, "failed": 1}
    assert "own access log" in r.output and "next capture" in r.output
    assert not any(pid in r.output for pid in ids)  # no person is named to the admin
    built = bootstrap.build(Settings(data_dir=data))
    try:
        with built.database.uow() as uow:
            assert [e.event.action for e in uow.access_log.for_person(ids[1])].count("renew_biometric") == 1
    finally:
        built.close()
