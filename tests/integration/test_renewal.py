"""Renewal after a key rotation from kept images (ISO/IEC 24745 renewability), on SQLite and PostgreSQL, with
the real protected matcher: new-version templates for those who opted in, one logged access each, the others
skipped, a corrupt kept image failing only its own person."""

from __future__ import annotations

import pytest

from carekey import bootstrap
from carekey.services.images import keep_image
from carekey.services.patients import Patient
from carekey.services.records import data_key
from carekey.services.renewal import RENEWAL_JOB
from tests.integration.helpers import ALL
from tests.integration.test_kept_images import IMAGES, enroll_with
from tests.integration.test_protected_biometrics import BIO, image


@pytest.fixture
def rotated(app):
    """After enrollments under the first key version: rotate, and open the app again under the new one."""
    apps = []

    def _rotate():
        bootstrap.rotate_biometric_key(app.settings)
        apps.append(bootstrap.build(app.settings))
        return apps[-1]

    yield _rotate
    for a in apps:
        a.close()


def renewals(app, pid):
    with app.database.uow() as uow:
        return [e.event for e in uow.access_log.for_person(pid) if e.event.action == "renew_biometric"]


def versions(app, pid):
    with app.database.uow() as uow:
        return sorted((t.modality, t.key_version) for t in uow.biometrics.for_person(pid))


def test_renewal_reextracts_kept_images_under_the_new_key_version(app, world, rotated):
    s = app.services
    visit, ama = enroll_with(s, world.registrar, (*ALL, IMAGES))
    s.biometrics.enroll(world.registrar, visit.id, BIO, ama, "iris", "left", image("01_L_1"))
    s.biometrics.enroll(world.registrar, visit.id, BIO, ama, "fingerprint", "right_index", image("db1_101_1"))
    visit2, kofi = enroll_with(s, world.registrar, ALL, card_number="NK2002", given_name="Kofi")
    s.biometrics.enroll(world.registrar, visit2.id, BIO, kofi, "iris", "left", image("40_L_2"))
    old = s.biometrics.matcher.key_version

    new = rotated()
    assert new.services.renewal.plan() == ([ama], [])
    report = new.services.renewal.run()

    assert report.key_version == old + 1
    assert (report.renewed, report.templates, report.failed) == ([ama], 2, {})
    assert versions(new, ama) == [("fingerprint", old + 1), ("iris", old + 1)]  # old-version ones retired
    assert versions(new, kofi) == [("iris", old)]  # no opt-in: re-enrolls at the next capture
    with new.database.uow() as uow:
        assert {(i.key_version, i.template_id in {t.id for t in uow.biometrics.for_person(ama)})
                for i in uow.images.for_person(ama)} == {(old + 1, True)}
    [event] = renewals(new, ama)  # one access event per person, readable by the person
    assert (event.outcome, event.purpose, event.actor_id, event.role) == (
        "granted", IMAGES, RENEWAL_JOB.user_id, "admin")
    assert renewals(new, kofi) == []
    assert "renew_biometric" in {v.event["action"] for v in new.services.patients.accesses(Patient(ama))}

    bio = new.services.biometrics
    nxt = new.services.visits.open(world.registrar, "north")
    agreed = {"person_agreed": True}  # the person present agreed to each search
    assert [c.person_id for c in bio.identify(world.registrar, nxt.id, BIO, "iris", image("01_L_2"), **agreed)] == [ama]
    assert [c.person_id for c in bio.identify(world.registrar, nxt.id, BIO, "fingerprint",
                                              image("db1_101_2"), **agreed)] == [ama]
    # Kofi's template: retired
    assert bio.identify(world.registrar, nxt.id, BIO, "iris", image("40_L_2"), **agreed) == []

    again = new.services.renewal.run()  # nothing left to renew: no further reads
    assert (again.renewed, again.failed) == ([], {}) and len(renewals(new, ama)) == 1


def test_a_corrupt_kept_image_fails_its_person_only(app, world, rotated):
    s = app.services
    crypto = s.deps.crypto
    people = {}
    for name, card in (("Ama", "NK1001"), ("Efua", "NK5005"), ("Yaw", "NK6006")):
        visit, pid = enroll_with(s, world.registrar, (*ALL, IMAGES), card_number=card, given_name=name)
        s.biometrics.enroll(world.registrar, visit.id, BIO, pid, "iris", "left", image("01_L_1"))
        people[name] = pid
    with app.database.uow() as uow:
        [efua_image] = uow.images.for_person(people["Efua"])  # tampered ciphertext
        uow.images.delete_for_person(people["Efua"])
        broken = bytearray(efua_image.ciphertext)
        broken[40] ^= 0xFF
        uow.images.add(efua_image.__class__(**(efua_image.__dict__ | {"ciphertext": bytes(broken)})))
        [yaw_template] = uow.biometrics.for_person(people["Yaw"])  # a sealed image that is no image
        keep_image(uow, crypto, data_key(crypto, uow.people.get(people["Yaw"])), yaw_template,
                   b"\x89PNG truncated", s.deps.clock())
        uow.commit()

    new = rotated()
    report = new.services.renewal.run()

    assert report.renewed == [people["Ama"]]
    assert set(report.failed) == {people["Efua"], people["Yaw"]}
    assert "could not be renewed" in report.failed[people["Efua"]]
    assert "authentication" in report.failed[people["Efua"]]  # the ciphertext was tampered with
    assert "could not be renewed" in report.failed[people["Yaw"]]
    for name in ("Efua", "Yaw"):  # the read was attempted, so it is in their log; nothing else changed
        assert len(renewals(new, people[name])) == 1
        assert versions(new, people[name]) == [("iris", report.key_version - 1)]
    assert versions(new, people["Ama"]) == [("iris", report.key_version)]


def test_kept_images_outlive_their_retired_templates_and_still_renew(app, world, rotated):
    """Retention deletes retired templates (the image's link is cleared, the image stays); renewal still works."""
    s = app.services
    visit, ama = enroll_with(s, world.registrar, (*ALL, IMAGES))
    s.biometrics.enroll(world.registrar, visit.id, BIO, ama, "iris", "left", image("01_L_1"))
    new = rotated()
    assert new.services.retention.run().retired_templates_deleted == [ama]
    with new.database.uow() as uow:
        assert uow.biometrics.for_person(ama) == []
        assert [i.template_id for i in uow.images.for_person(ama)] == [None]
    assert new.services.renewal.run().renewed == [ama]
    with new.database.uow() as uow:
        [template] = uow.biometrics.for_person(ama)
        assert [i.template_id for i in uow.images.for_person(ama)] == [template.id]
