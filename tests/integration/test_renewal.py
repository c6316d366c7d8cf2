"""Renewal after a key rotation from kept images (ISO/IEC 24745 renewability), on SQLite and PostgreSQL, with
the real protected matcher: new-version templates for those who opted in, one logged access each, the others
skipped, a corrupt kept image failing only its own person."""

from __future__ import annotations

from dataclasses import replace

import pytest

from carekey import bootstrap
from carekey.services.images import keep_image
from carekey.services.patients import Patient
from carekey.services.records import data_key
from carekey.services.renewal import RENEWAL_JOB
from tests.integration.helpers import ALL, revisit
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
        assert {
            (i.key_version, i.template_id in {t.id for t in uow.biometrics.for_person(ama)})
            for i in uow.images.for_person(ama)
        } == {(old + 1, True)}
    [event] = renewals(new, ama)  # one access event per person, readable by the person
    assert (event.outcome, event.purpose, event.actor_id, event.role) == (
        "granted",
        IMAGES,
        RENEWAL_JOB.user_id,
        "admin",
    )
    assert renewals(new, kofi) == []
    assert "renew_biometric" in {v.event["action"] for v in new.services.patients.accesses(Patient(ama))}

    bio = new.services.biometrics
    nxt = new.services.visits.open(world.registrar, "north")
    agreed = {"person_agreed": True}  # the person present agreed to each search
    assert [c.person_id for c in bio.identify(world.registrar, nxt.id, BIO, "iris", image("01_L_2"), **agreed)] == [ama]
    assert [
        c.person_id for c in bio.identify(world.registrar, nxt.id, BIO, "fingerprint", image("db1_101_2"), **agreed)
    ] == [ama]
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
        s.biometrics.enroll(
            world.registrar, visit.id, BIO, pid, "iris", "left", image("01_L_1"), override="false_match"
        )  # one fixture eye for several people
        people[name] = pid
    with app.database.uow() as uow:
        [efua_image] = uow.images.for_person(people["Efua"])  # tampered ciphertext
        uow.images.delete_for_person(people["Efua"])
        broken = bytearray(efua_image.ciphertext)
        broken[40] ^= 0xFF
        uow.images.add(efua_image.__class__(**(efua_image.__dict__ | {"ciphertext": bytes(broken)})))
        [yaw_template] = uow.biometrics.for_person(people["Yaw"])  # a sealed image that is no image
        keep_image(
            uow,
            crypto,
            data_key(crypto, uow.people.get(people["Yaw"])),
            yaw_template,
            b"\x89PNG truncated",
            s.deps.clock(),
        )
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


class _FailingOn:
    """The real matcher, except that extracting one given image raises a non-carekey error (as OpenCV/numpy may)."""

    def __init__(self, matcher, bad: bytes) -> None:
        self._m, self._bad = matcher, bad
        self.key_version = matcher.key_version

    def extract(self, modality, img):
        if img == self._bad:
            raise ValueError("cv2.error: (-215:Assertion failed) !_src.empty()")
        return self._m.extract(modality, img)


def test_an_unexpected_extractor_error_fails_its_person_only_and_keeps_the_logged_access(app, world, rotated):
    s = app.services
    people = {}
    for name, card, img in (("Ama", "NK1001", "01_L_1"), ("Efua", "NK5005", "40_L_2"), ("Yaw", "NK6006", "01_L_2")):
        visit, pid = enroll_with(s, world.registrar, (*ALL, IMAGES), card_number=card, given_name=name)
        s.biometrics.enroll(
            world.registrar, visit.id, BIO, pid, "iris", "left", image(img), override="false_match"
        )  # one fixture eye for several people
        people[name] = pid

    new = rotated()
    renewal = new.services.renewal
    renewal.matcher = _FailingOn(renewal.matcher, image("40_L_2"))
    report = renewal.run()

    assert sorted(report.renewed) == sorted([people["Ama"], people["Yaw"]])  # the job went on after Efua
    assert list(report.failed) == [people["Efua"]]
    assert "could not re-extract (ValueError)" in report.failed[people["Efua"]]
    assert "next capture" in report.failed[people["Efua"]]
    [event] = renewals(new, people["Efua"])  # her image was decrypted: the access stays in her log
    assert event.outcome == "granted"
    assert versions(new, people["Efua"]) == [("iris", report.key_version - 1)]
    with new.database.uow() as uow:
        assert {i.key_version for i in uow.images.for_person(people["Efua"])} == {report.key_version - 1}
    for name in ("Ama", "Yaw"):
        assert versions(new, people[name]) == [("iris", report.key_version)]


def test_a_position_re_enrolled_under_the_current_version_is_not_renewed_twice(app, world, rotated):
    """A re-enrollment that committed while renewal held the old image list (the race renewal can lose) leaves the
    older kept image next to a current-version template: renewal must skip that position, renew the others."""
    s = app.services
    visit, ama = enroll_with(s, world.registrar, (*ALL, IMAGES))
    s.biometrics.enroll(world.registrar, visit.id, BIO, ama, "iris", "left", image("01_L_1"))
    s.biometrics.enroll(world.registrar, visit.id, BIO, ama, "fingerprint", "right_index", image("db1_101_1"))
    with app.database.uow() as uow:
        [old_iris] = [i for i in uow.images.for_person(ama) if i.modality == "iris"]

    new = rotated()
    nxt = revisit(new.services, world.registrar)
    new.services.biometrics.enroll(world.registrar, nxt.id, BIO, ama, "iris", "left", image("01_L_2"))
    with new.database.uow() as uow:  # what the renewal saw before the re-enrollment: the older kept image
        uow.images.delete_position(ama, "iris", "left")
        uow.images.add(replace(old_iris, template_id=None))  # its retired template was deleted by the enroll
        uow.commit()

    report = new.services.renewal.run()

    assert (report.renewed, report.templates, report.failed) == ([ama], 1, {})
    with new.database.uow() as uow:
        current = [
            (t.modality, t.position) for t in uow.biometrics.for_person(ama) if t.key_version == report.key_version
        ]
    assert sorted(current) == [("fingerprint", "right_index"), ("iris", "left")]  # one per position


def test_renewal_does_not_relink_an_image_replaced_meanwhile(app, world, rotated):
    """The relink is a compare-and-set on the image's key version: an image no longer of the version renewal read
    (replaced or already renewed) updates no row, so no template is added for it."""
    s = app.services
    visit, ama = enroll_with(s, world.registrar, (*ALL, IMAGES))
    s.biometrics.enroll(world.registrar, visit.id, BIO, ama, "iris", "left", image("01_L_1"))
    new = rotated()
    with new.database.uow() as uow:
        [kept] = uow.images.for_person(ama)
        assert uow.images.relink(kept.id, None, kept.key_version + 1, kept.key_version + 5) == 0
        assert uow.images.relink(kept.id, None, kept.key_version + 1, kept.key_version) == 1
        assert uow.images.relink(kept.id, None, kept.key_version + 1, kept.key_version) == 0  # already claimed
