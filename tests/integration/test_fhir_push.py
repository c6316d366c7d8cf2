"""Closing a visit pushes its FHIR Bundle to the site's EMR, only with ehr_sharing, with retries, every attempt a
logged policy decision; against a real HTTP endpoint (uvicorn in a thread) on both databases."""

from datetime import UTC, datetime, timedelta

import pytest

from carekey.domain.consent import Grantor
from carekey.fhir import bundles, reading
from tests.fhir_endpoint import free_port, running_endpoint
from tests.integration.helpers import CARE, consent, person_input, revisit

WITH_EHR = ("care_record", "biometric_identification", "aggregate_statistics", "ehr_sharing")
EXAM = {
    "systolic_bp": 150,
    "diastolic_bp": 95,
    "pulse": 72,
    "height_cm": 160,
    "weight_kg": 80,
    "glucose_mmol_l": 6.1,
    "hemoglobin_g_dl": 12.5,
    "blood_type": "B-",
}


@pytest.fixture
def endpoint(monkeypatch):
    with running_endpoint() as ep:
        monkeypatch.setenv("CAREKEY_FHIR_ENDPOINT_NORTH", ep.base)
        yield ep


def visit_with_exam(s, world, granted=WITH_EHR, card="NK1001"):
    visit = s.visits.open(world.registrar, "north")
    view = s.people.enroll(
        world.registrar, visit.id, CARE, person_input(card_number=card), consent(granted), confirm_new=True
    )
    exam = s.exams.record(world.clinician, visit.id, CARE, view.person.id, EXAM)
    return visit, view.person.id, exam


def log_of(app, person_id):
    with app.database.uow() as uow:
        return [(e.event.action, e.event.outcome) for e in uow.access_log.for_person(person_id)]


def pushes(app):
    with app.database.uow() as uow:
        return uow.fhir_pushes.list(("pending", "sent", "failed", "cancelled"))


def test_closed_visit_arrives_as_a_valid_transaction_bundle(app, world, endpoint):
    s = app.services
    visit, pid, exam = visit_with_exam(s, world)
    s.visits.close(world.clinician, visit.id)
    assert endpoint.requests == [("POST", "/fhir", "application/fhir+json")]
    [received] = endpoint.received
    bundle = bundles.parse(received)  # validates with the library's R4 models
    assert bundle.type == "transaction" and all(e.request.method == "PUT" for e in bundle.entry)
    assert reading.resource_types(bundle)[:3] == ["Patient", "Location", "Encounter"]
    got = {(r["loinc"], r["value"], r["unit"]) for r in reading.measurements(bundle)}
    assert got == {(o["loinc"], o["value"], o["unit"]) for o in exam.observations()}
    [row] = pushes(app)
    assert (row.status, row.attempts, row.last_status) == ("sent", 1, 201)
    assert row.location == f"{endpoint.base}/Bundle/1/_history/1"
    assert log_of(app, pid)[-1] == ("ehr_push", "granted")  # a decision in the log before the data left


def test_no_push_without_the_consent(app, world, endpoint):
    s = app.services
    visit, pid, _ = visit_with_exam(s, world, granted=("care_record", "aggregate_statistics"))
    s.visits.close(world.clinician, visit.id)
    assert endpoint.requests == [] and pushes(app) == []
    assert "ehr_push" not in [a for a, _ in log_of(app, pid)]


def test_no_endpoint_for_the_site_means_no_push(app, world, endpoint):
    s = app.services
    visit = s.visits.open(world.registrar_south, "south")
    view = s.people.enroll(world.registrar_south, visit.id, CARE, person_input(), consent(WITH_EHR))
    s.visits.close(world.registrar_south, visit.id)
    assert endpoint.requests == [] and pushes(app) == [] and view.person.id


def test_server_errors_are_retried_with_backoff_then_sent(app, world, endpoint):
    s, clock = app.services, app.services.deps.clock
    clock.now = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    endpoint.script = [503, 500]
    visit, _, _ = visit_with_exam(s, world)
    s.visits.close(world.clinician, visit.id)
    [row] = pushes(app)
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, 503)
    assert row.next_attempt_at == clock.now + timedelta(seconds=app.settings.fhir_retry_seconds)
    assert s.fhir.send_due(world.admin) == []  # not due yet
    clock.now += timedelta(seconds=60)
    [row] = s.fhir.send_due(world.admin)
    assert (row.status, row.attempts, row.last_status) == ("pending", 2, 500)
    assert row.next_attempt_at == clock.now + timedelta(seconds=120)  # doubled
    clock.now += timedelta(seconds=120)
    [row] = s.fhir.send_due(world.admin)
    assert (row.status, row.attempts) == ("sent", 3) and len(endpoint.received) == 1
    assert s.fhir.queue(world.admin).counts == {"north": {"pending": 0, "sent": 1, "failed": 0, "cancelled": 0}}


def test_a_refusing_server_fails_at_once_and_stays_visible_until_requeued(app, world, endpoint):
    s = app.services
    endpoint.script = [422]
    visit, _, _ = visit_with_exam(s, world)
    s.visits.close(world.clinician, visit.id)
    view = s.fhir.queue(world.admin)
    assert view.counts["north"]["failed"] == 1
    [item] = view.items
    assert item["last_status"] == 422 and "person_id" not in item and "visit_id" not in item
    assert s.fhir.send_due(world.admin) == []  # failed is not retried by itself
    [row] = s.fhir.send_due(world.admin, retry_failed=True)
    assert row.status == "sent" and len(endpoint.received) == 1


def test_unreachable_endpoint_is_retried_until_max_attempts(app, world, monkeypatch):
    s, clock = app.services, app.services.deps.clock
    monkeypatch.setenv("CAREKEY_FHIR_ENDPOINT_NORTH", f"http://127.0.0.1:{free_port()}/fhir")  # nobody listens
    app.settings.fhir_max_attempts = 2
    clock.now = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    visit, _, _ = visit_with_exam(s, world)
    s.visits.close(world.clinician, visit.id)
    [row] = pushes(app)
    assert (row.status, row.last_status) == ("pending", None) and row.last_error.startswith("no answer")
    clock.now += timedelta(hours=1)
    [row] = s.fhir.send_due(world.admin)
    assert (row.status, row.attempts) == ("failed", 2)


def test_revoking_ehr_sharing_stops_further_pushes(app, world, endpoint):
    s, clock = app.services, app.services.deps.clock
    clock.now = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    endpoint.script = [503]
    visit, pid, _ = visit_with_exam(s, world)
    s.visits.close(world.clinician, visit.id)  # first attempt fails: the push waits for a retry
    second = revisit(s, world.registrar)
    s.people.read(world.registrar, second.id, CARE, pid)
    s.consents.decide(world.registrar, second.id, CARE, pid, "ehr_sharing", False, "v1", "en", Grantor())
    clock.now += timedelta(hours=1)
    [row] = s.fhir.send_due(world.admin)
    assert row.status == "cancelled" and "ehr_sharing" in row.last_error
    assert log_of(app, pid)[-1] == ("ehr_push", "denied")  # the refused attempt is in the person's log
    s.exams.record(world.clinician, second.id, CARE, pid, {"pulse": 80})
    s.visits.close(world.registrar, second.id)  # a later visit is not even queued
    assert len(pushes(app)) == 1 and endpoint.received == []


def test_only_an_admin_runs_the_queue(app, world):
    from carekey.errors import Forbidden

    for actor in (world.registrar, world.clinician, world.manager, world.auditor):
        with pytest.raises(Forbidden):
            app.services.fhir.queue(actor)
        with pytest.raises(Forbidden):
            app.services.fhir.send_due(actor)
