"""Deleted means gone from the files: after a revocation of biometric consent and after an erasure, no byte of
the deleted templates, kept images, blind indexes, wrapped key or person id is left in carekey.db, -wal or -shm
(secure_delete=ON and a TRUNCATE checkpoint after every deletion), and the kept images' key is destroyed."""

from __future__ import annotations

import os
import stat

import pytest

from carekey.domain.consent import Grantor
from carekey.errors import NotFound
from carekey.services.images import keep_image, open_image
from carekey.services.patients import Patient
from carekey.storage.protocols import TemplateRow
from tests.faults.conftest import data_files, found_in
from tests.integration.helpers import ALL, CARE, consent, person_input

pytestmark = pytest.mark.faults
BIO = "biometric_identification"
IMAGES = "biometric_image_retention"


def enroll_biometric(app, world, card="NK7001", **person):
    """A person with two protected templates and a kept image (random bytes, so every copy is recognizable)."""
    s = app.services
    visit = s.visits.open(world.registrar, "north")
    pid = s.people.enroll(
        world.registrar,
        visit.id,
        CARE,
        person_input(card_number=card, **person),
        consent((*ALL, IMAGES)),
        pin="246810",
        confirm_new=True,
    ).person.id
    templates = [os.urandom(700) for _ in range(2)]
    with app.database.uow() as uow:
        now = s.deps.clock()
        rows = [
            TemplateRow(f"T-{card}-{i}", pid, "fingerprint", f"right_{i}", 1, t, now) for i, t in enumerate(templates)
        ]
        for r in rows:
            uow.biometrics.add(r)
        image = os.urandom(6000)
        keep_image(uow, s.deps.crypto, b"", rows[0], image, now)
        uow.commit()
    with app.database.uow() as uow:
        [kept] = uow.images.for_person(pid)
        person = uow.people.get(pid)
    return visit, pid, templates, kept, person


def needles_of(templates, kept):
    return [t[100:164] for t in templates] + [kept.ciphertext[500:564]]


def test_revocation_leaves_no_template_or_image_bytes_and_destroys_the_image_key(opened, world_of):
    app, world = opened, world_of
    visit, pid, templates, kept, _ = enroll_biometric(app, world)
    before = data_files(app.settings)
    assert all(found_in(before, n) for n in needles_of(templates, kept))  # the scan does find them while kept

    app.services.consents.decide(world.registrar, visit.id, CARE, pid, BIO, False, "v1", "en", Grantor())

    after = data_files(app.settings)
    for needle in needles_of(templates, kept):
        assert found_in(after, needle) == []
    with pytest.raises(NotFound, match="image key"):  # a copy of the image taken before cannot be opened
        open_image(app.services.deps.crypto, b"\0" * 32, kept)


def test_erasure_leaves_no_blind_index_key_or_person_id(opened, world_of):
    app, world = opened, world_of
    _, pid, templates, kept, person = enroll_biometric(app, world)
    # another person stays: the scan must find them (and shares no blind index with the erased one)
    _, other, *_ = enroll_biometric(app, world, card="NK7002", given_name="Kofi", village="Bolga")
    needles = [
        pid.encode(),
        person.card_bidx.encode(),
        person.name_bidx.encode(),
        person.wrapped_key,
        person.ciphertext[12:60],
        *needles_of(templates, kept),
    ]
    before = data_files(app.settings)
    assert all(found_in(before, n) for n in needles)

    app.services.patients.erase(Patient(pid))

    after = data_files(app.settings)
    for needle in needles:
        assert found_in(after, needle) == [], needle
    assert found_in(after, other.encode())  # the other person is still there
    with app.database.uow() as uow:
        assert uow.shreds.pending() == []
    assert app.services.audit.verify(world.auditor, "audit").ok  # the log still verifies


def test_data_files_are_owner_only_from_creation(opened, world_of):
    app, world = opened, world_of
    enroll_biometric(app, world)
    names = ["carekey.db", "carekey.db-wal", "carekey.db-shm", "carekey.keys", "carekey.keystore", "carekey.log.key"]
    for name in names:
        path = app.settings.data_dir / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{name} is {oct(path.stat().st_mode)}"
    assert (app.settings.data_dir / "carekey.db").exists() and (app.settings.data_dir / "carekey.keystore").exists()
