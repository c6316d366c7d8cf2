"""The raw-image opt-in (consent biometric_image_retention) through the services, on SQLite and PostgreSQL, with
the real protected matcher and fixture images: sealed under the person's own key, deleted with either consent
(in the revocation's transaction), crypto-shredded on erasure, swept by retention."""

from __future__ import annotations

import dataclasses

import pytest

from carekey.domain.consent import Grantor
from carekey.errors import IntegrityError, InvalidInput, NotFound
from carekey.services.images import open_image
from carekey.services.patients import Patient
from carekey.services.records import data_key
from carekey.storage.protocols import ImageRow
from tests.integration.helpers import ALL, CARE, consent, person_input
from tests.integration.test_protected_biometrics import BIO, image

IMAGES = "biometric_image_retention"


def enroll_with(s, actor, granted, **kw):
    visit = s.visits.open(actor, "north")
    view = s.people.enroll(actor, visit.id, CARE, person_input(**kw), consent(granted), pin="246813", confirm_new=True)
    return visit, view.person.id


def kept(app, pid) -> list[ImageRow]:
    with app.database.uow() as uow:
        return uow.images.for_person(pid)


def key_of(app, pid) -> bytes:
    with app.database.uow() as uow:
        return data_key(app.services.deps.crypto, uow.people.get(pid))


def test_without_the_opt_in_no_image_is_kept(app, world):
    s = app.services
    visit, pid = enroll_with(s, world.registrar, ALL)
    s.biometrics.enroll(world.registrar, visit.id, BIO, pid, "iris", "left", image("01_L_1"))
    with app.database.uow() as uow:
        assert len(uow.biometrics.for_person(pid)) == 1
        assert uow.images.for_person(pid) == [] and uow.images.person_ids() == []
    assert s.patients.record(Patient(pid)).images_kept == 0


def test_with_the_opt_in_the_image_is_kept_sealed_under_the_persons_key(app, world):
    s = app.services
    visit, pid = enroll_with(s, world.registrar, (*ALL, IMAGES))
    raw = image("01_L_1")
    tid = s.biometrics.enroll(world.registrar, visit.id, BIO, pid, "iris", "left", raw)
    [row] = kept(app, pid)
    assert (row.template_id, row.modality, row.position) == (tid, "iris", "left")
    assert row.key_version == s.biometrics.matcher.key_version
    assert row.ciphertext != raw and raw[100:164] not in row.ciphertext and raw[:16] not in row.ciphertext
    with app.database.uow() as uow:
        assert row.key_ref and row.key_ref.startswith("ik-") and row.key_ref != uow.people.get(pid).key_ref
    assert open_image(s.deps.crypto, key_of(app, pid), row) == raw  # the person's own image key opens it
    other_visit, other = enroll_with(s, world.registrar, (*ALL, IMAGES), card_number="NK3003")
    with pytest.raises(IntegrityError, match="authentication"):  # bound to its person: another key cannot open it
        open_image(s.deps.crypto, key_of(app, other), dataclasses.replace(row, person_id=other))

    s.biometrics.enroll(world.registrar, visit.id, BIO, pid, "iris", "left", image("01_L_2"), replace=True)  # again
    assert [open_image(s.deps.crypto, key_of(app, pid), r) for r in kept(app, pid)] == [image("01_L_2")]

    assert s.patients.record(Patient(pid)).images_kept == 1
    export = s.patients.export(Patient(pid))
    assert [(i["modality"], i["position"]) for i in export["biometric_images_kept"]] == [("iris", "left")]
    assert "ciphertext" not in str(export) and str(raw[:8]) not in str(export)


def test_the_opt_in_needs_biometric_consent(app, world):
    s = app.services
    visit = s.visits.open(world.registrar, "north")
    with pytest.raises(InvalidInput, match="together with biometric_identification"):
        s.people.enroll(world.registrar, visit.id, CARE, person_input(), consent((CARE, IMAGES)))
    visit, pid = enroll_with(s, world.registrar, (CARE,))
    with pytest.raises(InvalidInput, match="together with biometric_identification"):
        s.consents.decide(world.registrar, visit.id, CARE, pid, IMAGES, True, "v1", "en", Grantor())
    s.consents.decide(world.registrar, visit.id, CARE, pid, BIO, True, "v1", "en", Grantor())
    assert s.consents.decide(world.registrar, visit.id, CARE, pid, IMAGES, True, "v1", "en", Grantor()).granted


class FailingCommit:
    """A unit of work whose final commit fails: what it did must all roll back together."""

    def __init__(self, inner):
        self.inner = inner

    def __enter__(self):
        self.uow = self.inner.__enter__()
        return self

    def __exit__(self, *exc):
        return self.inner.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self.uow, name)

    def commit(self):
        raise RuntimeError("the database went away at commit")


@pytest.mark.parametrize("revoked", [BIO, IMAGES])
@pytest.mark.parametrize("by", ["registrar", "patient"])
def test_revoking_either_consent_deletes_the_images_in_the_same_transaction(app, world, revoked, by):
    s = app.services
    visit, pid = enroll_with(s, world.registrar, (*ALL, IMAGES))
    s.biometrics.enroll(world.registrar, visit.id, BIO, pid, "iris", "left", image("01_L_1"))

    def revoke():
        if by == "patient":
            return s.patients.revoke(Patient(pid), revoked)
        return s.consents.decide(world.registrar, visit.id, CARE, pid, revoked, False, "v1", "en", Grantor())

    real = s.deps.uow
    s.deps.uow = lambda: FailingCommit(real())
    try:
        with pytest.raises(RuntimeError, match="went away"):
            revoke()
    finally:
        s.deps.uow = real
    assert len(kept(app, pid)) == 1  # the failed revocation deleted nothing: one transaction
    assert IMAGES in {p.value for p in s.patients.record(Patient(pid)).consents}

    rec = revoke()
    assert (rec.purpose.value, rec.granted) == (revoked, False)
    assert kept(app, pid) == []
    grants = {p.value for p in s.patients.record(Patient(pid)).consents}
    assert IMAGES not in grants  # revoking biometrics revokes the keeping of images with it
    with app.database.uow() as uow:
        assert bool(uow.biometrics.for_person(pid)) == (revoked == IMAGES)  # templates go only with biometrics
        if revoked == BIO:
            assert [(r.purpose, r.granted) for r in uow.consents.history(pid)][-2:] == [(BIO, False), (IMAGES, False)]


def test_erasure_deletes_and_crypto_shreds_the_kept_images(app, world):
    s = app.services
    visit, pid = enroll_with(s, world.registrar, (*ALL, IMAGES))
    s.biometrics.enroll(world.registrar, visit.id, BIO, pid, "iris", "left", image("01_L_1"))
    with app.database.uow() as uow:  # what a copy of the database taken before the erasure holds
        person, copy = uow.people.get(pid), uow.images.for_person(pid)
    assert open_image(s.deps.crypto, data_key(s.deps.crypto, person), copy[0]) == image("01_L_1")

    s.patients.erase(Patient(pid))

    assert kept(app, pid) == []
    with pytest.raises(NotFound, match="destroyed"):
        data_key(s.deps.crypto, person)  # the copy's wrapped key cannot be unwrapped: the images are noise
    with pytest.raises(NotFound, match="destroyed"):
        open_image(s.deps.crypto, b"\0" * 32, copy[0])  # nor the copy's images: their own key is gone too


@pytest.mark.parametrize("revoked", [BIO, IMAGES])
def test_revocation_destroys_the_image_key_but_not_the_record(app, world, revoked):
    s = app.services
    visit, pid = enroll_with(s, world.registrar, (*ALL, IMAGES))
    s.biometrics.enroll(world.registrar, visit.id, BIO, pid, "iris", "left", image("01_L_1"))
    [copy] = kept(app, pid)  # what a database copy, a backup or the WAL taken before the revocation holds
    s.consents.decide(world.registrar, visit.id, CARE, pid, revoked, False, "v1", "en", Grantor())
    with pytest.raises(NotFound, match="image key has been destroyed"):
        open_image(s.deps.crypto, key_of(app, pid), copy)
    assert s.people.read(world.registrar, visit.id, CARE, pid).person.id == pid  # the record itself lives on
    with app.database.uow() as uow:
        assert uow.shreds.pending() == []  # phase 2 ran right after the commit


def test_retention_deletes_images_left_without_the_consent(app, world):
    s = app.services
    _, keeper = enroll_with(s, world.registrar, (*ALL, IMAGES))
    _, leftover = enroll_with(s, world.registrar, ALL, card_number="NK4004")
    with app.database.uow() as uow:  # as an interrupted revocation would leave them
        for pid in (keeper, leftover):
            uow.images.add(ImageRow(f"I-{pid}", pid, None, "iris", "left", 1, b"sealed", s.deps.clock()))
        uow.commit()
    assert s.retention.plan().orphan_images == [leftover]
    assert s.retention.run().images_deleted == [leftover]
    assert kept(app, leftover) == [] and len(kept(app, keeper)) == 1
    with app.database.uow() as uow:
        last = uow.access_log.for_person(leftover)[-1].event
    assert (last.action, last.outcome, last.purpose) == ("retention_delete", "granted", "administration")
