"""Helpers for service-level integration tests."""

from __future__ import annotations

from carekey.domain.consent import Grantor
from carekey.services.consents import ConsentInput
from carekey.services.people import PersonInput

CARE = "care_record"
ALL = ("care_record", "biometric_identification", "aggregate_statistics")


def person_input(**kw) -> PersonInput:
    base = dict(
        given_name="Ama",
        family_name="Mensah",
        sex="female",
        birth_year=1980,
        card_number="NK1001",
        district="Northern",
        village="Tamale",
    )
    return PersonInput(**(base | kw))


def consent(granted=ALL, grantor=None) -> ConsentInput:
    return ConsentInput.parse(list(granted), "v1", "en", grantor or Grantor())


def enroll(services, actor, confirm_new=True, **kw):
    """A new person in a new visit. ``confirm_new``: the registrar confirmed a new person, so that tests enrolling
    several people who differ only by card are not stopped by the demographic duplicate check (tested on its own in
    test_enrollment_duplicates)."""
    visit = services.visits.open(actor, next(iter(actor.site_ids)))
    view = services.people.enroll(actor, visit.id, CARE, person_input(**kw), consent(), confirm_new=confirm_new)
    return visit, view


def revisit(services, actor, view=None, site_id=None, card="NK1001"):
    """A new visit at the actor's site that finds the person by their card (as a registrar does when they return):
    the only way a visit reaches an existing person."""
    visit = services.visits.open(actor, site_id or next(iter(actor.site_ids)))
    found = services.lookup.by_card(actor, visit.id, CARE, view.person.card_number if view else card)
    assert found and (view is None or view.person.id in [c.person_id for c in found])
    return visit


def last_entry(app):
    with app.database.uow() as uow:
        return uow.access_log.latest()[0].event
