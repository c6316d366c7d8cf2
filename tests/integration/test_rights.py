"""Patients' rights, DP statistics and retention through the services, on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from carekey.audit.proofs import verify_access_receipt
from carekey.domain.purposes import CONSENT_PURPOSES
from carekey.errors import BudgetExhausted, ConsentMissing, Forbidden, InvalidInput, NotAuthenticated
from carekey.storage.protocols import TemplateRow
from tests.integration.helpers import CARE, consent, person_input

PIN = "432187"


def enroll_with_pin(
    s, actor, card="NK3001", granted=("care_record", "biometric_identification", "aggregate_statistics"), **kw
):
    visit = s.visits.open(actor, "north")
    view = s.people.enroll(
        actor, visit.id, CARE, person_input(card_number=card, **kw), consent(granted), pin=PIN, confirm_new=True
    )
    return visit, view.person.id


def add_template(app, pid, tid="T-1"):
    with app.database.uow() as uow:
        now = app.services.deps.clock()
        uow.biometrics.add(TemplateRow(tid, pid, "fingerprint", "right_index", 1, b"protected", now))
        uow.commit()


def test_patient_sees_record_and_every_access_with_a_verifiable_proof(app, world):
    s = app.services
    visit, pid = enroll_with_pin(s, world.registrar)
    s.exams.record(world.clinician, visit.id, CARE, pid, {"systolic_bp": 131, "diastolic_bp": 82})
    with pytest.raises(Forbidden):
        s.people.read(world.registrar, visit.id, "law_enforcement", pid)
    with pytest.raises(NotAuthenticated):
        s.patients.login("NK3001", "0000")
    patient = s.patients.authenticate(s.patients.login("nk3001", PIN).token)
    rec = s.patients.record(patient)
    assert rec.person.id == pid and [e.systolic_bp for e in rec.exams] == [131.0]
    views = s.patients.accesses(patient)
    actions = [(v.event["role"], v.event["action"], v.event["outcome"]) for v in views]
    assert actions[:5] == [
        ("registrar", "enroll", "granted"),
        ("registrar", "duplicate_check_demographic", "granted"),
        ("clinician", "record_exam", "granted"),
        ("registrar", "read_person", "refused"),
        ("patient", "patient_read", "granted"),
    ]
    head = s.transparency.tree_head()
    for v in views:
        d = v.to_dict()
        assert verify_access_receipt(d, head.public_key)
        assert d["receipt"]["signed_tree_head"]["root_hash"] == head.sth.to_dict()["root_hash"]
        forged = d | {"event": d["event"] | {"purpose": "care_record", "outcome": "granted"}}
        assert v.event["outcome"] == "granted" or not verify_access_receipt(forged, head.public_key)
    assert not verify_access_receipt(views[0].to_dict(), bytes(32))  # another key


def test_staff_token_is_not_a_patient_token_and_back(app, world):
    s = app.services
    enroll_with_pin(s, world.registrar)
    patient_token = s.patients.login("NK3001", PIN).token
    staff_token = s.auth.login("registrar", "correct horse battery").token
    with pytest.raises(NotAuthenticated):
        s.auth.authenticate(patient_token)
    with pytest.raises(NotAuthenticated):
        s.patients.authenticate(staff_token)


def test_patient_revocation_takes_effect_on_next_call_and_deletes_templates(app, world):
    s = app.services
    visit, pid = enroll_with_pin(s, world.registrar)
    add_template(app, pid)
    patient = s.patients.authenticate(s.patients.login("NK3001", PIN).token)
    rec = s.patients.revoke(patient, "biometric_identification")
    assert not rec.granted and rec.user_id is None and rec.site_id is None
    with app.database.uow() as uow:
        assert uow.biometrics.for_person(pid) == []
    s.patients.revoke(patient, "care_record")
    with pytest.raises(ConsentMissing):
        s.people.read(world.registrar, visit.id, CARE, pid)
    with pytest.raises(InvalidInput):
        s.patients.revoke(patient, "law_enforcement")
    history = s.patients.consents(patient)
    assert [(c.purpose.value, c.granted) for c in history[-2:]] == [
        ("biometric_identification", False),
        ("care_record", False),
    ]


def test_export_and_erasure(app, world):
    s = app.services
    _, pid = enroll_with_pin(s, world.registrar)
    add_template(app, pid)
    patient = s.patients.authenticate(token := s.patients.login("NK3001", PIN).token)
    data = s.patients.export(patient)
    assert data["person"]["id"] == pid and data["person"]["family_name"] == "Mensah"
    assert len(data["consents"]) == len(CONSENT_PURPOSES) and len(data["biometric_templates"]) == 1
    assert data["accesses"][-1]["event"]["action"] == "patient_export"
    s.patients.erase(patient)
    with pytest.raises(NotAuthenticated):
        s.patients.authenticate(token)  # the session went with the person
    s.transparency.integrate()  # the erasure's own entries into the tree (entries() reads integrated ones)
    with app.database.uow() as uow:
        assert uow.people.get(pid) is None and uow.biometrics.for_person(pid) == []
        assert uow.access_log.for_person(pid) == []  # the log rows name a pseudonym now, without their salt
        size = uow.access_log.size()
        (erased,) = [e for e in uow.access_log.entries(0, size) if e.event.action == "patient_erase"]
        assert erased.event.person_id.startswith("X-") and erased.salt is None
        assert (
            len(
                {
                    e.event.person_id
                    for e in uow.access_log.entries(0, size)
                    if e.event.person_id and e.event.person_id.startswith("X-")
                }
            )
            == 1
        )  # one pseudonym per person
    assert app.services.audit.verify(world.auditor, "audit").ok  # erasure never breaks the log


def test_statistics_budget_is_persistent_and_refuses_past_limit(app, world):
    s = app.services
    s.deps.settings.privacy_budget_epsilon = 1.0
    for i in range(6):
        visit, pid = enroll_with_pin(
            s,
            world.registrar,
            card=f"NK40{i}",
            district="Northern",
            granted=("care_record", "aggregate_statistics") if i % 2 else ("care_record",),
        )
        s.exams.record(world.clinician, visit.id, CARE, pid, {"systolic_bp": 150, "diastolic_bp": 95})
    out = s.statistics.release(world.manager, "aggregate_statistics", "hypertension", 0.6)
    assert out["epsilon_spent"] == pytest.approx(0.6) and out["confidence"] == 0.95
    fig = next(f for f in out["figures"] if f["level"] == "total")
    lo, hi = fig["count_ci95"]
    assert lo <= fig["count"] <= hi and set(fig["counts"]) == {"yes", "no", "unknown"}
    assert all(f["level"] == "total" or f["count"] >= 10 for f in out["figures"])  # 3 people: no small cell alone
    assert out["period"] == out["released_at"][:4] + "Q" + str((int(out["released_at"][5:7]) - 1) // 3 + 1)
    with pytest.raises(BudgetExhausted):
        s.statistics.release(world.manager, "aggregate_statistics", "count", 0.6)
    assert s.statistics.budget(world.manager, "aggregate_statistics").spent == pytest.approx(0.6)
    with pytest.raises(Forbidden):
        s.statistics.release(world.clinician, "aggregate_statistics", "count", 0.1)
    with pytest.raises(Forbidden):
        s.statistics.release(world.manager, "care_record", "count", 0.1)
    with app.database.uow() as uow:
        last = uow.access_log.latest(4)
    outcomes = [(e.event.role, e.event.outcome, e.event.person_id) for e in last]
    assert outcomes == [
        ("program_manager", "denied", None),
        ("program_manager", "granted", None),
        ("clinician", "denied", None),
        ("program_manager", "denied", None),
    ]
    assert "budget" in last[0].event.reason  # the refused release is logged with its reason


def test_retention_deletes_expired_records_and_orphan_templates(app, world):
    s = app.services
    clock = s.deps.clock
    _, old = enroll_with_pin(s, world.registrar, card="NK5001")
    _, fresh = enroll_with_pin(s, world.registrar, card="NK5002")
    _, orphan = enroll_with_pin(s, world.registrar, card="NK5003", granted=("care_record",))
    add_template(app, orphan)
    with app.database.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE people SET last_seen_at = :t WHERE id = :p"),
            {"t": clock() - timedelta(days=365 * 11), "p": old},
        )
    dry = s.retention.run(dry_run=True)
    assert dry.erased == [old] and dry.templates_deleted == [orphan]
    with app.database.uow() as uow:
        assert uow.people.get(old) is not None
    report = s.retention.run()
    assert report.erased == [old] and report.templates_deleted == [orphan]
    s.transparency.integrate()
    with app.database.uow() as uow:
        assert uow.people.get(old) is None and uow.people.get(fresh) is not None
        assert uow.biometrics.for_person(orphan) == []
        assert uow.access_log.for_person(old) == []  # erased: the log names a keyed pseudonym instead
        assert any(
            e.event.action == "retention_delete" and (e.event.person_id or "").startswith("X-")
            for e in uow.access_log.entries(0, uow.access_log.size())
        )
    assert s.retention.run().erased == []
    with pytest.raises(Forbidden, match="did not find"):  # an erased person is unknown, like any other id
        s.people.read(world.registrar, s.visits.open(world.registrar, "north").id, CARE, old)
