"""The matcher's gallery follows changes made by another process: a second ``bootstrap.build`` on the same data
folder (its own engine and connections, as a second server worker or a CLI job) enrolls, revokes, erases and
renews under a rotated key; the first one's index catches up before its next search, on SQLite and PostgreSQL."""

from __future__ import annotations

from carekey import bootstrap
from carekey.domain.consent import Grantor
from carekey.services.biometrics import BiometricService
from carekey.services.people import erase_person
from tests.e2e.web_support import FeedFake
from tests.integration.helpers import CARE, enroll

BIO = "biometric_identification"
AGREED = {"person_agreed": True}


class HashMatcher(FeedFake):
    """Template = the image bytes; the real FollowedGallery behind it (score 100 for the same bytes)."""

    def __init__(self, key_version: int = 1) -> None:
        self.key_version = key_version

    def extract(self, modality, image):
        return bytes(image)

    probe = extract

    def threshold(self, modality):
        return 50.0


def found(bio, world, image):
    visit = bio_visits[id(bio)].open(world.registrar, "north")
    return [c.person_id for c in bio.identify(world.registrar, visit.id, BIO, "fingerprint", image, **AGREED)]


bio_visits: dict[int, object] = {}


def _service(app, key_version: int = 1) -> BiometricService:
    bio = BiometricService(app.services.deps, HashMatcher(key_version))
    bio_visits[id(bio)] = app.services.visits
    return bio


def test_the_index_follows_enroll_revoke_erase_and_renewal_done_by_another_process(app, world, settings):
    here = _service(app)
    other_app = bootstrap.build(settings, matcher=HashMatcher())
    try:
        there, s2 = other_app.services.biometrics, other_app.services
        visit, ama = enroll(app.services, world.registrar)
        here.enroll(world.registrar, visit.id, BIO, ama.person.id, "fingerprint", "right_index", b"ama")
        assert found(here, world, b"ama") == [ama.person.id]
        assert here.matcher.gallery.built

        v2, kofi = enroll(s2, world.registrar, given_name="Kofi", card_number="NK2002")
        there.enroll(world.registrar, v2.id, BIO, kofi.person.id, "fingerprint", "right_index", b"kofi")
        assert found(here, world, b"kofi") == [kofi.person.id]  # enrolled elsewhere, found here

        s2.consents.decide(world.registrar, v2.id, CARE, kofi.person.id, BIO, False, "v1", "en", Grantor())
        assert found(here, world, b"kofi") == []  # revoked elsewhere: gone from this index, never scored
        assert here.matcher.gallery.count("demo") == 1

        with other_app.database.uow() as uow:  # erased elsewhere (the storage half of an erasure)
            erase_person(uow, s2.deps, ama.person.id)
            uow.commit()
        assert found(here, world, b"ama") == [] and here.matcher.gallery.count("demo") == 0

        v3, efua = enroll(app.services, world.registrar, given_name="Efua", card_number="NK3003")
        here.enroll(world.registrar, v3.id, BIO, efua.person.id, "fingerprint", "right_index", b"efua")
        assert found(here, world, b"efua") == [efua.person.id]
        renewed = _service(other_app, key_version=2)  # a job under the rotated key renews Efua's template
        renewed.enroll(world.registrar, v3.id, BIO, efua.person.id, "fingerprint", "right_index", b"efua")
        assert found(here, world, b"efua") == []  # version 1 retired: out of the version-1 index
        assert here.matcher.gallery.count() == 0
        assert found(renewed, world, b"efua") == [efua.person.id]  # the version-2 gallery has it
        fresh = _service(app, key_version=2)  # a restart under the new key loads it from the snapshot
        assert fresh.matcher.build() == 1 and found(fresh, world, b"efua") == [efua.person.id]
    finally:
        other_app.close()


def test_feed_rows_name_templates_only_and_follow_commit_order(app, world):
    bio = _service(app)
    visit, ama = enroll(app.services, world.registrar)
    feed = app.database.template_feed()
    start = feed.head()
    bio.enroll(world.registrar, visit.id, BIO, ama.person.id, "fingerprint", "left_index", b"one")
    bio.enroll(world.registrar, visit.id, BIO, ama.person.id, "iris", "left", b"two")
    rows = feed.changes(start, 10)
    assert [r.seq for r in rows] == sorted(r.seq for r in rows) and len(rows) == 2 and feed.head() == rows[-1].seq
    assert [(r.modality, r.program_id, r.position, r.template) for r in rows] == [
        ("fingerprint", "demo", "left_index", b"one"),
        ("iris", "demo", "left", b"two"),
    ]
    with app.database.uow() as uow:
        uow.biometrics.delete_for_person(ama.person.id)
        uow.commit()
    gone = feed.changes(rows[-1].seq, 10)
    assert {r.template_id for r in gone} == {r.template_id for r in rows} and all(r.template is None for r in gone)
