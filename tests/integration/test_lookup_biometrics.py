"""Lookup without biometrics, and the biometric port with a fake matcher."""

import hashlib
from datetime import timedelta

import pytest

from carekey.domain.consent import Grantor
from carekey.errors import CaptureRejected, Forbidden, RateLimited
from carekey.services.biometrics import BiometricService
from tests.e2e.web_support import FeedFake
from tests.integration.helpers import CARE, enroll

BIO = "biometric_identification"
AGREED = {"person_agreed": True}  # the person present agreed to the search


def test_lookup_by_card_and_fuzzy_name(app, world):
    s = app.services
    _, ama = enroll(s, world.registrar)
    enroll(s, world.registrar, given_name="Kwame", family_name="Boateng", card_number="NK1002", birth_year=1975)
    visit = s.visits.open(world.registrar, "north")
    assert [c.person_id for c in s.lookup.by_card(world.registrar, visit.id, CARE, "nk-1001")] == [ama.person.id]
    assert s.lookup.by_card(world.registrar, visit.id, CARE, "XX9999") == []
    hits = s.lookup.by_name(world.registrar, visit.id, CARE, "Amma Mensa", 1981)  # typos, year off by one
    assert [c.person_id for c in hits] == [ama.person.id] and hits[0].score >= 80
    assert s.lookup.by_name(world.registrar, visit.id, CARE, "Ama Mensah", 1980, village="Elsewhere") == []
    assert s.lookup.by_name(world.registrar, visit.id, CARE, "Zzz Qqq", 1980) == []
    with pytest.raises(Forbidden):
        s.lookup.by_card(world.clinician, visit.id, CARE, "NK1001")


def test_lookup_returns_at_most_five_and_logs_each_candidate(app, world):
    s = app.services
    for i in range(7):
        enroll(s, world.registrar, card_number=f"TW{i:04d}", given_name="Ama")
    visit = s.visits.open(world.registrar, "north")
    hits = s.lookup.by_name(world.registrar, visit.id, CARE, "Ama Mensah", 1980)
    assert len(hits) == 5
    with app.database.uow() as uow:
        shown = [e.event for e in uow.access_log.for_person(hits[0].person_id) if e.event.action == "lookup_result"]
    assert len(shown) == 1 and shown[0].actor_id == world.registrar.user_id


def test_identification_rate_limit(app, world):
    s = app.services
    s.deps.settings = s.deps.settings.model_copy(update={"identifications_per_hour": 3})
    visit = s.visits.open(world.registrar, "north")
    for _ in range(3):
        s.lookup.by_card(world.registrar, visit.id, CARE, "NK0000")
    with pytest.raises(RateLimited):
        s.lookup.by_card(world.registrar, visit.id, CARE, "NK0000")
    s.deps.clock.now = s.deps.clock() + timedelta(hours=1, seconds=1)
    assert s.lookup.by_card(world.registrar, visit.id, CARE, "NK0000") == []


class FakeMatcher(FeedFake):
    """Template = SHA-256 of the image; score 100 when equal, else 0. Empty images are rejected."""

    def extract(self, modality, image):
        if not image:
            raise CaptureRejected("blank capture")
        return hashlib.sha256(image).digest()

    probe = extract

    def threshold(self, modality):
        return 50.0


def test_biometric_enroll_identify_and_revoke(app, world):
    s = app.services
    bio = BiometricService(s.deps, FakeMatcher())
    visit, view = enroll(s, world.registrar)
    pid = view.person.id
    bio.enroll(world.registrar, visit.id, BIO, pid, "fingerprint", "right_index", b"finger-image")
    with pytest.raises(CaptureRejected):
        bio.enroll(world.registrar, visit.id, BIO, pid, "fingerprint", "right_thumb", b"")
    nxt = s.visits.open(world.registrar, "north")
    with pytest.raises(Forbidden, match="agreement of the person present"):
        bio.identify(world.registrar, nxt.id, BIO, "fingerprint", b"finger-image", person_agreed=False)
    with app.database.uow() as uow:
        last = uow.access_log.latest()[0].event
    assert (last.action, last.outcome) == ("identify_biometric", "denied")
    hits = bio.identify(world.registrar, nxt.id, BIO, "fingerprint", b"finger-image", **AGREED)
    assert [c.person_id for c in hits] == [pid]
    assert bio.identify(world.registrar, nxt.id, BIO, "fingerprint", b"someone-else", **AGREED) == []
    s.consents.decide(world.registrar, visit.id, CARE, pid, BIO, False, "v1", "en", Grantor())
    with app.database.uow() as uow:
        assert uow.biometrics.for_person(pid) == []
    assert bio.identify(world.registrar, nxt.id, BIO, "fingerprint", b"finger-image", **AGREED) == []
    with pytest.raises(Forbidden):
        bio.enroll(world.registrar, visit.id, BIO, pid, "fingerprint", "right_index", b"finger-image")


RecordingMatcher = FakeMatcher  # ``scored``: every template id a search compared the probe with


def test_biometric_search_stays_inside_the_visit_s_program(app, world):
    """Issue 11 finding 4: a registrar of another program uploads a demo person's finger and is shown nobody,
    and no template of the demo program is ever handed to the matcher for that search."""
    from carekey.domain.program import Program, Site
    from carekey.services.admin import LOCAL_OPERATOR
    from carekey.services.deps import Actor

    s = app.services
    matcher = RecordingMatcher()
    bio = BiometricService(s.deps, matcher)
    visit, view = enroll(s, world.registrar)
    bio.enroll(world.registrar, visit.id, BIO, view.person.id, "fingerprint", "right_index", b"finger-image")
    s.admin.create_program(LOCAL_OPERATOR, Program("other", "Other program", ("v1",), ("en",)))
    s.admin.add_site(LOCAL_OPERATOR, Site("east", "other", "East clinic", "Eastern"))
    s.admin.add_user(LOCAL_OPERATOR, "registrar-east", "registrar", "pw-east-123456", ["east"])
    east = Actor.of(s.admin.approve_user(world.admin, "registrar-east"))
    v = s.visits.open(east, "east")
    assert bio.identify(east, v.id, BIO, "fingerprint", b"finger-image", **AGREED) == []
    assert matcher.scored == []  # filtered before scoring, not after
    home = s.visits.open(world.registrar, "north")
    assert [
        c.person_id for c in bio.identify(world.registrar, home.id, BIO, "fingerprint", b"finger-image", **AGREED)
    ] == [view.person.id]


def test_a_biometric_match_is_proof_of_presence_and_a_bound_visit_only_verifies(app, world):
    s = app.services
    bio = BiometricService(s.deps, FakeMatcher())
    visit, ama = enroll(s, world.registrar)
    bio.enroll(world.registrar, visit.id, BIO, ama.person.id, "fingerprint", "right_index", b"ama-finger")
    v2, kwame = enroll(s, world.registrar, given_name="Kwame", card_number="NK1002")
    bio.enroll(world.registrar, v2.id, BIO, kwame.person.id, "fingerprint", "right_index", b"kwame-finger")
    nxt = s.visits.open(world.registrar, "north")
    assert [
        c.person_id for c in bio.identify(world.registrar, nxt.id, BIO, "fingerprint", b"ama-finger", **AGREED)
    ] == [ama.person.id]
    s.people.read(world.registrar, nxt.id, CARE, ama.person.id)
    s.people.set_pin(world.registrar, nxt.id, CARE, ama.person.id, "246813")  # the match proved she is here
    # the visit now serves Ama: a search there verifies her only, it never reaches Kwame
    assert bio.identify(world.registrar, nxt.id, BIO, "fingerprint", b"kwame-finger", **AGREED) == []
    with app.database.uow() as uow:
        [entry] = [e.event for e in uow.access_log.for_person(ama.person.id) if e.event.action == "set_pin"]
    assert entry.outcome == "granted" and "presence proven by biometric" in entry.reason
