"""Referrals through the services on SQLite and PostgreSQL: sealed at rest, logged, listed as codes for the
clinicians of their site only, closed once, erased with the person."""

from __future__ import annotations

import pytest

from carekey.errors import Conflict, Forbidden, InvalidInput
from carekey.services.patients import Patient
from carekey.storage.sql.tables import referrals
from tests.integration.helpers import CARE, enroll, last_entry

WHERE, WHY = "Tamale Teaching Hospital", "fasting glucose 7.4 twice"


def _refer(app, world):  # type: ignore[no-untyped-def]
    s = app.services
    visit, view = enroll(s, world.registrar)
    s.people.read(world.clinician, visit.id, CARE, view.person.id)
    ref = s.referrals.record(world.clinician, visit.id, CARE, view.person.id, WHERE, WHY, "soon")
    return visit, view, ref


def test_a_referral_is_sealed_logged_and_read_back_in_the_visit(app, world):
    visit, view, ref = _refer(app, world)
    entry = last_entry(app)
    assert entry.action == "record_referral" and entry.outcome == "granted" and entry.person_id == view.person.id
    with app.database.uow() as uow:
        raw = bytes(uow._conn.execute(referrals.select()).first().ciphertext)  # type: ignore[attr-defined]
    assert WHERE.encode() not in raw and WHY.encode() not in raw and b"soon" not in raw
    [back] = app.services.referrals.for_person(world.clinician, visit.id, CARE, view.person.id)
    assert (back.to_where, back.reason, back.urgency.value, back.is_open) == (WHERE, WHY, "soon", True)
    with pytest.raises(Forbidden):
        app.services.referrals.for_person(world.registrar, visit.id, CARE, view.person.id)
    with pytest.raises(InvalidInput):
        app.services.referrals.record(world.clinician, visit.id, CARE, view.person.id, WHERE, WHY, "someday")


def test_the_follow_up_list_is_codes_for_the_sites_clinicians_and_closing_is_once(app, world):
    visit, view, ref = _refer(app, world)
    s = app.services
    [item] = s.referrals.followup(world.clinician, "north", CARE)
    assert (item.referral_id, item.person_code, item.visit_code) == (ref.id, view.person.id, visit.id[-6:].upper())
    assert not hasattr(item, "to_where") and not hasattr(item, "reason")
    for actor, site in ((world.clinician_south, "north"), (world.registrar, "north")):
        with pytest.raises(Forbidden):
            s.referrals.followup(actor, site, CARE)
    assert s.referrals.followup(world.clinician_south, "south", CARE) == []
    with pytest.raises(Forbidden):
        s.referrals.close(world.clinician_south, ref.id, CARE, "seen")
    s.referrals.close(world.clinician, ref.id, CARE, "not_needed")
    with pytest.raises(Conflict):
        s.referrals.close(world.clinician, ref.id, CARE, "seen")
    assert s.referrals.followup(world.clinician, "north", CARE) == []
    record = s.patients.record(Patient(view.person.id))
    assert [(r.to_where, r.closed_as.value) for r in record.referrals] == [(WHERE, "not_needed")]


def test_referrals_go_with_the_person_on_erasure(app, world):
    visit, view, _ = _refer(app, world)
    with app.database.uow() as uow:
        assert uow.referrals.for_person(view.person.id)
    app.services.patients.erase(Patient(view.person.id))
    with app.database.uow() as uow:
        assert uow.referrals.for_person(view.person.id) == []
        assert uow.referrals.open_at_site("north") == []
