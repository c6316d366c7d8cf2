"""``authorize`` on fakes: what is logged, what is committed, and in which order."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from carekey.audit import leaf
from carekey.domain.consent import ConsentRecord, Grantor
from carekey.domain.program import Role
from carekey.domain.purposes import Purpose
from carekey.domain.visit import Visit
from carekey.errors import ConsentMissing, Forbidden, RateLimited, RefusedPurpose
from carekey.policy.decision import Action
from carekey.services.access import authorize
from carekey.services.deps import Actor

NOW = datetime(2026, 11, 28, 10, tzinfo=UTC)
CLIN = Actor("U-1", "nurse", Role.CLINICIAN, frozenset({"north"}))
VISIT = Visit("V-1", "north", "U-0", NOW, person_id="CK-A")


class FakeLog:
    def __init__(self, fail=False):
        self.rows, self.fail = [], fail

    def append(self, event, salt, leaf_input):
        if self.fail:
            raise RuntimeError("disk full")
        assert leaf_input == leaf.leaf_input(event.leaf_event(), salt)
        self.rows.append(event)
        return len(self.rows) - 1

    def count_since(self, actor_id, actions, since):
        return sum(1 for e in self.rows if e.actor_id == actor_id and e.action in actions and e.at >= since)

    def count_site_since(self, site_id, actions, since):
        return sum(1 for e in self.rows if e.site_id == site_id and e.action in actions and e.at >= since)

    def lock_limits(self, actor_id, site_id):
        self.locked = (actor_id, site_id)


class FakeVisits:
    def __init__(self, offers=None):
        self._offers = offers or {}

    def offers(self, visit_id):
        return dict(self._offers.get(visit_id, {}))


class FakeConsents:
    def __init__(self, granted):
        self.granted = granted

    def history(self, person_id):
        return [
            ConsentRecord(f"C{i}", person_id, p, True, "v1", "en", Grantor(), NOW, "north", "U-0")
            for i, p in enumerate(self.granted)
        ]


class FakeDirectory:
    """people.get / programs.get_site: the person and the site are in the same program unless told otherwise."""

    def __init__(self, person_program="demo"):
        self.person_program = person_program

    def get(self, person_id):
        return SimpleNamespace(id=person_id, program_id=self.person_program)

    def get_site(self, site_id):
        return SimpleNamespace(id=site_id, program_id="demo")


class FakeUow:
    def __init__(self, granted=(Purpose.CARE_RECORD,), fail=False, person_program="demo"):
        self.access_log, self.consents, self.commits = FakeLog(fail), FakeConsents(granted), 0
        self.people = self.programs = FakeDirectory(person_program)
        self.visits = FakeVisits()
        self.sync = SimpleNamespace(node_state=lambda: None)  # a central registry (no site-node lease)

    def commit(self):
        self.commits += 1


def test_grant_is_logged_but_not_committed():
    uow = FakeUow()
    assert (
        authorize(uow, NOW, CLIN, Action.READ_EXAMS, "care_record", visit=VISIT, person_id="CK-A")
        is Purpose.CARE_RECORD
    )
    assert [(e.outcome, e.person_id, e.site_id) for e in uow.access_log.rows] == [("granted", "CK-A", "north")]
    assert uow.commits == 0  # the caller's unit of work commits together with the data access


@pytest.mark.parametrize(
    ("raw", "label"), [("law_enforcement", "law_enforcement"), ("advertising", "other"), (None, "other")]
)
def test_refusal_is_logged_and_committed(raw, label):
    uow = FakeUow()
    with pytest.raises(RefusedPurpose):
        authorize(uow, NOW, CLIN, Action.READ_EXAMS, raw, visit=VISIT, person_id="CK-A")
    (event,) = uow.access_log.rows
    assert (event.outcome, event.purpose) == ("refused", label) and uow.commits == 1


def test_denial_is_logged_and_committed():
    uow = FakeUow(granted=())
    with pytest.raises(ConsentMissing):
        authorize(uow, NOW, CLIN, Action.READ_EXAMS, "care_record", visit=VISIT, person_id="CK-A")
    uow2 = FakeUow()
    with pytest.raises(Forbidden):
        authorize(uow2, NOW, CLIN, Action.LOOKUP, "care_record", visit=VISIT)
    assert [e.outcome for e in uow.access_log.rows + uow2.access_log.rows] == ["denied", "denied"]
    assert uow.commits == uow2.commits == 1


EMPTY = Visit("V-2", "north", "U-0", NOW)


def test_rate_limit_counts_every_identification_attempt():
    reg = Actor("U-2", "reg", Role.REGISTRAR, frozenset({"north"}))
    uow = FakeUow()
    for _ in range(2):
        authorize(uow, NOW, reg, Action.LOOKUP, "care_record", visit=EMPTY, per_hour=3)
    with pytest.raises(Forbidden):  # a denied attempt (a bound visit) counts too
        authorize(uow, NOW, reg, Action.LOOKUP, "care_record", visit=VISIT, per_hour=3)
    with pytest.raises(RateLimited):
        authorize(uow, NOW, reg, Action.LOOKUP, "care_record", visit=EMPTY, per_hour=3)
    assert [e.outcome for e in uow.access_log.rows] == ["granted", "granted", "denied", "denied"]
    assert uow.access_log.locked  # counted under the append lock


def test_site_limit_holds_across_accounts():
    uow = FakeUow()
    for i in range(3):
        reg = Actor(f"U-{i}", f"reg{i}", Role.REGISTRAR, frozenset({"north"}))
        authorize(uow, NOW, reg, Action.LOOKUP, "care_record", visit=EMPTY, per_hour=10, per_site_day=3)
    fresh = Actor("U-9", "fresh", Role.REGISTRAR, frozenset({"north"}))
    with pytest.raises(RateLimited, match="per day at site north"):
        authorize(uow, NOW, fresh, Action.LOOKUP, "care_record", visit=EMPTY, per_hour=10, per_site_day=3)


def test_unapproved_account_is_denied_and_logged():
    pending = Actor("U-3", "new", Role.CLINICIAN, frozenset({"north"}), approved=False)
    uow = FakeUow()
    with pytest.raises(Forbidden, match="awaiting approval"):
        authorize(uow, NOW, pending, Action.READ_EXAMS, "care_record", visit=VISIT, person_id="CK-A")
    assert [e.outcome for e in uow.access_log.rows] == ["denied"] and uow.commits == 1


def test_failed_append_raises_before_any_data():
    with pytest.raises(RuntimeError):
        authorize(FakeUow(fail=True), NOW, CLIN, Action.READ_EXAMS, "care_record", visit=VISIT, person_id="CK-A")


def test_person_of_another_program_is_denied_and_logged():
    uow = FakeUow(person_program="other")
    with pytest.raises(Forbidden, match="another screening program"):
        authorize(uow, NOW, CLIN, Action.READ_EXAMS, "care_record", visit=VISIT, person_id="CK-A")
    assert [e.outcome for e in uow.access_log.rows] == ["denied"] and uow.commits == 1
