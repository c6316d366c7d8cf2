"""Duplicate checks at enrollment, through the services, on SQLite and PostgreSQL: the biometric one (first template
of a modality searched against the program; confirm or override) and the demographic one (same normalized name,
birth year and village), both holding when registrars race."""

from __future__ import annotations

import threading

import pytest

from carekey.errors import Conflict, InvalidInput, PossibleDuplicate
from carekey.services.biometrics import BiometricService
from tests.integration.helpers import CARE, consent, enroll, person_input
from tests.integration.test_lookup_biometrics import FakeMatcher

BIO = "biometric_identification"


def entries(app, start=0):
    app.services.transparency.integrate()  # committed entries into the tree (entries() reads integrated ones)
    with app.database.uow() as uow:
        return [e.event for e in uow.access_log.entries(start, uow.access_log.size())]


def log_size(app):
    app.services.transparency.integrate()
    with app.database.uow() as uow:
        return uow.access_log.size()


@pytest.fixture
def bio(app):
    return BiometricService(app.services.deps, FakeMatcher())


def test_first_capture_matching_someone_is_a_possible_duplicate_then_confirmed(app, world, bio):
    s, reg = app.services, world.registrar
    v1, ama = enroll(s, reg)
    bio.enroll(reg, v1.id, BIO, ama.person.id, "fingerprint", "right_index", b"ama-finger")
    v2, again = enroll(s, reg, given_name="Amma", family_name="Mensa", card_number="NK9999")  # a new record
    start = log_size(app)
    with pytest.raises(PossibleDuplicate) as refused:
        bio.enroll(reg, v2.id, BIO, again.person.id, "fingerprint", "left_index", b"ama-finger")
    cands = refused.value.detail["candidates"]
    assert [c["person_id"] for c in cands] == [ama.person.id] and cands[0]["given_name"] == "Ama"
    assert set(cands[0]) == {
        "person_id",
        "given_name",
        "family_name",
        "sex",
        "birth_year",
        "district",
        "village",
        "score",
    }
    logged = entries(app, start)
    shown = [e for e in logged if e.action == "enroll_biometric_result"]
    assert [e.person_id for e in shown] == [ama.person.id] and shown[0].outcome == "granted"
    assert any(
        e.action == "enroll_biometric" and e.outcome == "denied" and "possible duplicate" in e.reason for e in logged
    )
    with app.database.uow() as uow:
        assert uow.biometrics.for_person(again.person.id) == []  # nothing stored for the new record
        assert uow.visits.offers(v2.id)[ama.person.id] == "duplicate"

    bio.confirm_duplicate(reg, v2.id, CARE, again.person.id, ama.person.id)
    with app.database.uow() as uow:
        assert uow.people.get(again.person.id) is None  # the record made in this visit is gone
        assert uow.visits.get(v2.id).person_id == ama.person.id
        assert [t.position for t in uow.biometrics.for_person(ama.person.id)] == ["right_index"]  # nothing leaked
    assert s.people.read(reg, v2.id, CARE, ama.person.id).person.given_name == "Ama"
    actions = [e.action for e in entries(app, start)]
    assert "discard_duplicate_enrollment" in actions and "confirm_duplicate" in actions


def test_confirm_needs_a_candidate_of_this_visit(app, world, bio):
    s, reg = app.services, world.registrar
    _, ama = enroll(s, reg)
    v2, other = enroll(s, reg, given_name="Kofi", card_number="NK2002")
    with pytest.raises(Conflict):
        bio.confirm_duplicate(reg, v2.id, CARE, other.person.id, ama.person.id)
    with app.database.uow() as uow:
        assert uow.people.get(other.person.id) is not None


def test_override_with_a_reason_is_stored_logged_and_counted(app, world, bio):
    s, reg = app.services, world.registrar
    v1, ama = enroll(s, reg)
    bio.enroll(reg, v1.id, BIO, ama.person.id, "iris", "left_eye", b"eye")
    v2, twin = enroll(s, reg, given_name="Esi", card_number="NK3003")
    with pytest.raises(InvalidInput, match="override"):
        bio.enroll(reg, v2.id, BIO, twin.person.id, "iris", "left_eye", b"eye", override="looks alike")
    bio.enroll(reg, v2.id, BIO, twin.person.id, "iris", "left_eye", b"eye", override="twins")
    assert bio.override_counts("demo") == {"twins": 1, "false_match": 0}
    last = [e for e in entries(app) if e.action.startswith("duplicate_override_")]
    assert [(e.action, e.person_id) for e in last] == [("duplicate_override_twins", twin.person.id)]
    # a second eye is not a first template: no check, no override needed
    bio.enroll(reg, v2.id, BIO, twin.person.id, "iris", "right_eye", b"other-eye")


def test_a_position_twice_asks_before_replacing(app, world, bio):
    s, reg = app.services, world.registrar
    v1, ama = enroll(s, reg)
    bio.enroll(reg, v1.id, BIO, ama.person.id, "fingerprint", "right_index", b"one")
    with pytest.raises(Conflict, match="already enrolled"):
        bio.enroll(reg, v1.id, BIO, ama.person.id, "fingerprint", "right_index", b"two")
    bio.enroll(reg, v1.id, BIO, ama.person.id, "fingerprint", "right_index", b"two", replace=True)
    with app.database.uow() as uow:
        kept = uow.biometrics.for_person(ama.person.id)
    assert len(kept) == 1 and kept[0].template == FakeMatcher().extract("fingerprint", b"two")
    assert bio.enrolled_positions(ama.person.id) == {"fingerprint": ["right_index"], "iris": []}


def _race(n, work):
    """Run ``work(i)`` in ``n`` threads released together; the outcomes (value or exception), in order."""
    gate, out = threading.Barrier(n), [None] * n

    def run(i):
        gate.wait()
        try:
            out[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test counts
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def test_two_registrars_enrolling_the_same_finger_at_once(app, world, bio):
    s = app.services
    people = [
        enroll(s, reg, given_name=name, card_number=card)
        for reg, name, card in ((world.registrar, "Yaw", "NK4004"), (world.registrar_south, "Yao", "NK5005"))
    ]
    regs = (world.registrar, world.registrar_south)
    out = _race(
        2,
        lambda i: bio.enroll(
            regs[i], people[i][0].id, BIO, people[i][1].person.id, "fingerprint", "right_index", b"same-finger"
        ),
    )
    assert sorted(type(o).__name__ for o in out) == ["PossibleDuplicate", "str"], out
    with app.database.uow() as uow:
        stored = uow.biometrics.by_modality("fingerprint", "demo")
    assert len(stored) == 1


def test_parallel_look_up_then_enroll_makes_one_record(app, world):
    s, reg, n = app.services, world.registrar, 20
    visits = [s.visits.open(reg, "north") for _ in range(n)]

    def lookup_then_enroll(i):
        if s.lookup.by_name(reg, visits[i].id, CARE, "Adwoa Boateng", 1975, "Kumasi"):
            return "found"
        data = person_input(
            given_name="Adwoa", family_name="Boateng", birth_year=1975, village="Kumasi", card_number=f"NK{7000 + i}"
        )
        return s.people.enroll(reg, visits[i].id, CARE, data, consent())

    out = _race(n, lookup_then_enroll)
    made = [o for o in out if not isinstance(o, Exception | str)]
    assert len(made) == 1, out
    assert all(isinstance(o, PossibleDuplicate) or o == "found" for o in out if o is not made[0]), out
    with app.database.uow() as uow:
        assert uow.people.count() == 1


def test_demographic_duplicate_unless_confirmed_new(app, world):
    s, reg = app.services, world.registrar
    _, ama = enroll(s, reg)
    visit = s.visits.open(reg, "north")
    same = person_input(given_name=" ama ", family_name="MENSAH", card_number="NK8008")  # normalized: the same
    start = log_size(app)
    with pytest.raises(PossibleDuplicate) as refused:
        s.people.enroll(reg, visit.id, CARE, same, consent())
    assert [c["person_id"] for c in refused.value.detail["candidates"]] == [ama.person.id]
    logged = entries(app, start)
    assert [e.person_id for e in logged if e.action == "enroll_result"] == [ama.person.id]
    # the registrar may open the existing record (it was offered to this visit) ...
    with app.database.uow() as uow:
        assert uow.visits.offers(visit.id) == {ama.person.id: "name"}
    # ... or, someone else after all, confirm a new person
    other_village = s.people.enroll(reg, visit.id, CARE, same, consent(), confirm_new=True)
    assert other_village.person.id != ama.person.id
    assert any(e.action == "duplicate_override_new_person" for e in entries(app, start))
    # another village or birth year is no duplicate
    v3 = s.visits.open(reg, "north")
    s.people.enroll(reg, v3.id, CARE, person_input(card_number="NK8009", village="Bolgatanga"), consent())
