"""kill -9 in the middle of erasures (retention, a patient's erasure, a revocation of biometric consent): after
restart and recovery nobody is half-erased — every person is either whole (their record opens) or gone (rows
deleted, key destroyed, card free for re-enrollment) — and kept images are either kept and readable or gone
with their key. On SQLite and PostgreSQL. The child process (tests/faults/crash_child.py) is killed with SIGKILL
right after it destroys the first key-store secret, the moment the old code had already shredded a key whose
rows were not yet deleted, and also at random moments of a retention run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from carekey import bootstrap
from carekey.config import Settings
from carekey.crypto.envelope import SealedKey
from carekey.services.deps import Actor
from carekey.services.images import keep_image
from carekey.storage.protocols import TemplateRow
from tests.conftest import make_world, pg_url_or_skip, reset_pg
from tests.e2e.web_support import ImageFakeMatcher
from tests.integration.helpers import ALL, CARE, consent, person_input

pytestmark = pytest.mark.faults
ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 12


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def crash_folder(request, tmp_path, monkeypatch):
    if request.param == "postgresql":
        url = pg_url_or_skip()
        reset_pg(url)
        monkeypatch.setenv("CAREKEY_DATABASE_URL", url)
    settings = Settings(data_dir=tmp_path / "data", argon2_time_cost=1, argon2_memory_kib=64)
    bootstrap.initialize(settings)
    return settings


def populate(settings: Settings) -> dict[str, tuple[str, str]]:
    """PEOPLE people, all expired for retention, each with a template and a kept image; returns id -> (card,
    key_ref)."""
    built = bootstrap.build(settings, matcher=ImageFakeMatcher())
    s, world = built.services, make_world(built.services)
    people = {}
    for i in range(PEOPLE):
        card = f"NK8{i:03d}"
        visit = s.visits.open(world.registrar, "north")
        pid = s.people.enroll(
            world.registrar,
            visit.id,
            CARE,
            person_input(card_number=card),
            consent((*ALL, "biometric_image_retention")),
            confirm_new=True,
        ).person.id
        with built.database.uow() as uow:
            now = s.deps.clock()
            template = TemplateRow(f"T-{i}", pid, "fingerprint", "right_index", 1, os.urandom(64), now)
            uow.biometrics.add(template)
            keep_image(uow, s.deps.crypto, b"", template, os.urandom(300), now)
            people[pid] = (card, uow.people.get(pid).key_ref)
            uow.commit()
    with built.database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET last_seen_at = :t"), {"t": s.deps.clock() - timedelta(days=365 * 11)})
    built.close()
    return people


def child(settings: Settings, task: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.crash_child", str(settings.data_dir), task, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )


def assert_nobody_half_erased(settings: Settings, people: dict[str, tuple[str, str]], reenroll: bool = True) -> int:
    """Restart (which recovers), then: each person whole or wholly gone (and, with ``reenroll``, the card of an
    erased one enrolls again); returns how many are gone."""
    built = bootstrap.build(settings, matcher=ImageFakeMatcher())
    try:
        s, crypto, gone = built.services, built.services.deps.crypto, 0
        with built.database.uow() as uow:
            assert uow.shreds.pending() == []  # recovery finished every interrupted erasure
            for pid, (_card, key_ref) in people.items():
                row = uow.people.get(pid)
                if row is None:
                    gone += 1
                    assert crypto._store.get(key_ref) is None, f"{pid} erased but its key survives"
                    assert uow.images.for_person(pid) == [] and uow.biometrics.for_person(pid) == []
                    continue
                crypto.data_key(pid, SealedKey(row.key_ref, row.wrapped_key))  # NotFound if half-erased
                for image in uow.images.for_person(pid):  # kept images: still readable under their own key
                    assert image.key_ref and crypto.image_key(pid, image.key_ref)
        erased = [card for pid, (card, _) in people.items() if pid not in _present(built, people)]
        if erased and reenroll:  # a card of an erased person is free again: no 409 on re-enrollment
            registrar = next(Actor.of(u) for u in _users(s) if u.username == "registrar")
            visit = s.visits.open(registrar, "north")
            s.people.enroll(registrar, visit.id, CARE, person_input(card_number=erased[0]), consent(), confirm_new=True)
        return gone
    finally:
        built.close()


def _present(built, people) -> set[str]:
    with built.database.uow() as uow:
        return {p for p in people if uow.people.get(p) is not None}


def _users(s):
    with s.deps.uow() as uow:
        return uow.users.list()


@pytest.mark.parametrize("task", ["retention", "erase", "revoke"])
def test_kill_right_after_the_first_key_is_destroyed(crash_folder, task):
    people = populate(crash_folder)
    victim = next(iter(people))
    proc = child(crash_folder, task if task == "retention" else f"{task}:{victim}", "kill-after-destroy")
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    gone = assert_nobody_half_erased(crash_folder, people)
    if task == "revoke":
        assert gone == 0
        built = bootstrap.build(crash_folder, matcher=ImageFakeMatcher())
        try:
            with built.database.uow() as uow:
                assert uow.images.for_person(victim) == [] and uow.biometrics.for_person(victim) == []
        finally:
            built.close()
    else:
        assert gone >= 1  # the erasure that was killed counts as done: its commit came before any key


def test_kill_at_random_moments_of_a_retention_run(crash_folder):
    people = populate(crash_folder)
    for i, delay in enumerate((0.05, 0.3, 0.8)):
        proc = child(crash_folder, "retention")
        assert proc.stdout.readline().strip() == b"ready", proc.stderr.read().decode()[-2000:]
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert_nobody_half_erased(crash_folder, people, reenroll=i == 2)
