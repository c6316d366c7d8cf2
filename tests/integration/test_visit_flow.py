"""One visit through the services, on both databases; personal data never in the clear in the DB."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from carekey.domain.consent import Grantor, GrantorKind
from carekey.errors import Conflict, ConsentMissing, Forbidden, InvalidInput, OutOfRange, RefusedPurpose
from carekey.services.presence import PresenceProof
from tests.integration.helpers import CARE, consent, enroll, last_entry, person_input, revisit


def count(app, table):
    with app.database.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_enroll_read_record_exam(app, world):
    s = app.services
    visit, view = enroll(s, world.registrar)
    pid = view.person.id
    assert view.person.card_number == "NK1001"
    exam = s.exams.record(
        world.clinician,
        visit.id,
        CARE,
        pid,
        {
            "systolic_bp": 150,
            "diastolic_bp": 95,
            "height_cm": 160,
            "weight_kg": 80,
            "blood_type": "B-",
            "glucose_mmol_l": 6.1,
        },
    )
    assert exam.bmi == 31.2
    read = s.exams.read(world.clinician, visit.id, CARE, pid)
    assert [e.observations() for e in read] == [exam.observations()]
    assert s.people.read(world.clinician, visit.id, CARE, pid).person == view.person
    history = s.consents.history(world.registrar, visit.id, CARE, pid)
    assert {c.purpose.value for c in history if c.granted} == {
        "care_record",
        "biometric_identification",
        "aggregate_statistics",
    }
    with app.database.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM people")).all() + conn.execute(sa.text("SELECT * FROM exams")).all()
    # ciphertext is random bytes (a short plaintext like "B-" could appear in it by chance): check every
    # readable column as text, and that no ciphertext carries the plaintext as a substring of UTF-8 bytes
    readable = repr([v for row in rows for v in row if not isinstance(v, bytes | memoryview)])
    blobs = [bytes(v) for row in rows for v in row if isinstance(v, bytes | memoryview)]
    for secret in ("Mensah", "NK1001", "Tamale", "1980"):
        # not as a word of its own: random hex ids may contain "1980" by chance (that made this test flaky)
        assert not re.search(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])", readable), secret
        assert not any(secret.encode() in blob for blob in blobs)
    # person ids such as CK-1V8B-M6YT contain "B-" by chance: the blood type must not appear as a value of its own
    assert not re.search(r"(?<![0-9A-Za-z])B-(?![0-9A-Za-z])", readable) and "Ama" not in readable


def test_log_has_every_access(app, world):
    s = app.services
    visit, view = enroll(s, world.registrar)
    s.people.read(world.registrar, visit.id, CARE, view.person.id)
    with app.database.uow() as uow:
        events = [e.event for e in uow.access_log.for_person(view.person.id)]
    assert [(e.action, e.outcome) for e in events] == [
        ("enroll", "granted"),
        ("duplicate_check_demographic", "granted"),  # every enrollment's name search counts like a lookup
        ("read_person", "granted"),
    ]


def test_refused_purpose_logged_committed_and_counted(app, world):
    s = app.services
    visit, view = enroll(s, world.registrar)
    with pytest.raises(RefusedPurpose, match="never"):
        s.people.read(world.registrar, visit.id, "law_enforcement", view.person.id)
    with pytest.raises(RefusedPurpose):
        s.exams.read(world.clinician, visit.id, "marketing", view.person.id)
    counts = {(r.purpose, r.count) for r in s.transparency.refusals()}
    assert counts == {("law_enforcement", 1), ("other", 1)}


def test_missing_consent_stores_nothing_and_exam_can_be_shown(app, world):
    s = app.services
    visit = s.visits.open(world.registrar, "north")
    with pytest.raises(ConsentMissing):
        s.people.enroll(world.registrar, visit.id, CARE, person_input(), consent(["biometric_identification"]))
    assert count(app, "people") == 0 and count(app, "consents") == 0
    shown = s.exams.screen_without_record(world.clinician, visit.id, {"systolic_bp": 120, "diastolic_bp": 70})
    assert shown.person_id is None and count(app, "exams") == 0
    assert last_entry(app).outcome == "denied"


def test_revoked_consent_denies_next_call(app, world):
    s = app.services
    visit, view = enroll(s, world.registrar)
    pid = view.person.id
    s.consents.decide(world.registrar, visit.id, CARE, pid, "care_record", False, "v1", "en", Grantor())
    with pytest.raises(ConsentMissing):
        s.exams.read(world.clinician, visit.id, CARE, pid)
    with pytest.raises(ConsentMissing):
        s.exams.record(world.clinician, visit.id, CARE, pid, {"pulse": 70})
    assert count(app, "exams") == 0


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"systolic_bp": 900, "diastolic_bp": 80}, OutOfRange),
        ({"blood_type": "Z+"}, InvalidInput),
        ({"temperature": 37}, InvalidInput),
    ],
)
def test_bad_exam_writes_nothing(app, world, values, error):
    s = app.services
    visit, view = enroll(s, world.registrar)
    before = count(app, "access_log")
    with pytest.raises(error):
        s.exams.record(world.clinician, visit.id, CARE, view.person.id, values)
    assert count(app, "exams") == 0 and count(app, "access_log") == before


def test_bad_person_writes_nothing(app, world):
    s = app.services
    visit = s.visits.open(world.registrar, "north")
    with pytest.raises(InvalidInput, match="birth year"):
        s.people.enroll(world.registrar, visit.id, CARE, person_input(birth_year=2999), consent())
    minor = person_input(birth_year=app.services.deps.clock().year - 14, card_number="KID1")
    with pytest.raises(InvalidInput, match="12-17"):
        s.people.enroll(world.registrar, visit.id, CARE, minor, consent())
    assert count(app, "people") == 0 and app.services.deps.crypto._store.count() == 0
    cosigned = consent(grantor=Grantor(GrantorKind.SELF, "Kofi Mensah", "father"))
    assert s.people.enroll(world.registrar, visit.id, CARE, minor, cosigned).person.card_number == "KID1"


def test_closed_visit_and_other_site(app, world):
    s = app.services
    visit, view = enroll(s, world.registrar)
    pid = view.person.id
    with pytest.raises(Forbidden, match="site"):
        s.exams.read(world.clinician_south, visit.id, CARE, pid)
    south = s.visits.open(world.clinician_south, "south")
    with pytest.raises(Forbidden, match="site"):  # a north clinician using a south visit
        s.exams.read(world.clinician, south.id, CARE, pid)
    other_visit, other = enroll(s, world.registrar, card_number="NK2002", given_name="Kojo")
    with pytest.raises(Forbidden, match="another person"):
        s.exams.read(world.clinician, visit.id, CARE, other.person.id)
    s.visits.close(world.registrar, visit.id)
    with pytest.raises(Forbidden, match="closed"):
        s.exams.record(world.clinician, visit.id, CARE, pid, {"pulse": 70})
    with pytest.raises(Conflict):
        s.visits.close(world.registrar, visit.id)
    with pytest.raises(Forbidden):
        s.visits.open(world.registrar, "south")


@pytest.mark.parametrize("who", ["admin", "auditor", "manager"])
def test_non_care_roles_read_no_records(app, world, who):
    s = app.services
    visit, view = enroll(s, world.registrar)
    with pytest.raises(Forbidden):
        s.people.read(getattr(world, who), visit.id, CARE, view.person.id)
    with pytest.raises(Forbidden):
        s.visits.open(getattr(world, who), "north")


def test_unknown_visit_is_denied_and_logged(app, world):
    with pytest.raises(Forbidden, match="open visit"):
        app.services.people.read(world.registrar, "V-nope", CARE, "CK-AAAA-AAAA")
    assert last_entry(app).outcome == "denied"


def test_append_failure_leaks_no_data(app, world, monkeypatch):
    s = app.services
    visit, view = enroll(s, world.registrar)
    from carekey.storage.sql.access_log import SqlAccessLogRepository

    def broken(self, *a, **k):
        raise RuntimeError("log unavailable")

    monkeypatch.setattr(SqlAccessLogRepository, "append", broken)
    with pytest.raises(RuntimeError):
        s.people.read(world.registrar, visit.id, CARE, view.person.id)


def test_token_expiry_and_login_limit(app, world):
    s = app.services
    issued = s.auth.login("clinician", "correct horse battery")
    assert s.auth.authenticate(issued.token).user_id == world.clinician.user_id
    s.deps.clock.now = issued.expires_at + timedelta(seconds=1)
    with pytest.raises(Exception, match="expired"):
        s.auth.authenticate(issued.token)
    for _ in range(s.deps.settings.login_attempts_per_minute):
        with pytest.raises(Exception, match="wrong"):
            s.auth.login("clinician", "nope")
    with pytest.raises(Exception, match="too many"):
        s.auth.login("clinician", "correct horse battery")


def test_unknown_person_looks_like_a_person_not_found_in_this_visit(app, world):
    """Existence is not revealed: an unknown id is denied exactly like a known one this visit did not find."""
    _, view = enroll(app.services, world.registrar)
    visit = app.services.visits.open(world.registrar, "north")
    with pytest.raises(Forbidden) as unknown:
        app.services.people.read(world.registrar, visit.id, CARE, "CK-0000-0000")
    with pytest.raises(Forbidden) as known:
        app.services.people.read(world.registrar, visit.id, CARE, view.person.id)
    assert unknown.value.message == known.value.message and "did not find" in known.value.message


def test_empty_visit_cannot_take_over_or_erase_another_person(app, world):
    """A registrar must confirm who is present (read or enroll in this visit) before setting their portal PIN or
    erasing them: otherwise one empty visit could hijack anyone's patient portal or erase anyone."""
    s = app.services
    first, view = enroll(s, world.registrar)
    s.visits.close(world.registrar, first.id)
    pid = view.person.id
    empty = s.visits.open(world.registrar, "north")
    with pytest.raises(Forbidden, match="did not find this person"):
        s.people.set_pin(world.registrar, empty.id, CARE, pid, "135790")
    with pytest.raises(Forbidden, match="did not find this person"):
        s.people.erase(world.registrar, empty.id, CARE, pid)
    empty = revisit(s, world.registrar, view)
    assert s.people.read(world.registrar, empty.id, CARE, pid).person.id == pid  # the person is present
    with pytest.raises(Forbidden, match="prove they are here"):  # found by card: not yet proof of presence
        s.people.set_pin(world.registrar, empty.id, CARE, pid, "135790")
    second = PresenceProof(approver_username="clinician", approver_password="correct horse battery")
    s.people.set_pin(world.registrar, empty.id, CARE, pid, "135790", second)  # two-person rule: allowed, logged
    with app.database.uow() as uow:
        actions = [(e.event.action, e.event.outcome) for e in uow.access_log.for_person(pid)]
    assert ("set_pin", "denied") in actions and ("erase", "denied") in actions and ("set_pin", "granted") in actions


def test_lookup_stays_inside_the_visit_s_program(app, world):
    """Two programs on one server: a registrar of the second never finds people of the first."""
    from carekey.domain.program import Program, Site
    from carekey.services.admin import LOCAL_OPERATOR
    from carekey.services.deps import Actor

    s = app.services
    _, view = enroll(s, world.registrar)
    s.admin.create_program(LOCAL_OPERATOR, Program("other", "Other program", ("v1",), ("en",)))
    s.admin.add_site(LOCAL_OPERATOR, Site("east", "other", "East clinic", "Eastern"))
    s.admin.add_user(LOCAL_OPERATOR, "registrar-east", "registrar", "pw-east-123456", ["east"])
    other = Actor.of(s.admin.approve_user(world.admin, "registrar-east"))
    visit = s.visits.open(other, "east")
    card = view.person.card_number
    assert s.lookup.by_card(other, visit.id, CARE, card) == []
    assert (
        s.lookup.by_name(
            other, visit.id, CARE, view.person.given_name + " " + view.person.family_name, view.person.birth_year
        )
        == []
    )
    with pytest.raises(Forbidden, match="did not find this person"):  # nor by a known id
        s.people.read(other, visit.id, CARE, view.person.id)
    home = s.visits.open(world.registrar, "north")
    assert [c.person_id for c in s.lookup.by_card(world.registrar, home.id, CARE, card)] == [view.person.id]
