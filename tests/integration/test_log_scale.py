"""Logged writes that scale (issue 21, item 1): entries appended by several processes at once, without a global
lock, integrate into one consistent tree that `log verify` accepts; every promised entry is in a signed head
within the maximum merge delay; a forged, removed or late promise is reported. On SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from carekey import bootstrap
from carekey.audit.promise import EntryPromise, collect_promises
from carekey.config import Settings
from carekey.domain.program import Role
from carekey.errors import RateLimited
from carekey.interfaces.api.app import create_app
from carekey.services.access import log_access
from carekey.services.deps import Actor
from carekey.storage.sql.access_log import SqlAccessLogRepository
from carekey.storage.sql.engine import DELETED
from carekey.storage.sql.tables import access_log
from tests.e2e.web_support import FeedFake
from tests.integration.helpers import CARE, enroll
from tests.integration.test_rights import PIN, enroll_with_pin

WRITERS = 4
PER_WRITER = 12


def _writer(data_dir: str, url: str, k: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """One process: appends entries one transaction each, and now and then runs the integrator itself (as a
    server worker or a CLI command next to it would), racing the other processes."""
    app = bootstrap.build(Settings(data_dir=Path(data_dir), database_url=url), matcher=FeedFake())  # type: ignore[arg-type]
    actor = Actor(f"U-writer-{k}", f"writer{k}", Role.CLINICIAN, frozenset({"north"}))
    promises = []
    try:
        for i in range(PER_WRITER):
            with app.services.deps.uow() as uow:
                promise = log_access(
                    uow,
                    datetime.now(UTC),
                    actor,
                    "read_record",
                    "care_record",
                    "granted",
                    f"writer {k} entry {i}",
                    "north",
                    None,
                )
                uow.commit()
            promises.append(promise.to_dict())
            if i % 4 == 3:
                app.services.transparency.integrate(wait=i % 8 == 3)  # blocking and non-blocking integrators
    finally:
        app.close()
    out.put(promises)


def test_entries_from_several_processes_integrate_into_one_verified_tree(app, world):
    app.services.transparency.integrate()  # the world's setup, as the server's background integrator would
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [
        ctx.Process(target=_writer, args=(str(app.settings.data_dir), app.settings.resolved_database_url(), k, out))
        for k in range(WRITERS)
    ]
    for p in procs:
        p.start()
    promised = [EntryPromise.from_dict(d) for _ in procs for d in out.get(timeout=300)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    app.services.transparency.integrate()
    with app.database.uow() as uow:
        assert uow.access_log.pending() == 0
        seqs = [i for i, _ in uow.access_log.leaves()]
        assert seqs == list(range(len(seqs))) and uow.access_log.tree().size == len(seqs)
        by_id = {e.entry_id: e for e in uow.access_log.promised(0, 100_000)}
        heads = uow.tree_heads.all()
    assert len(promised) == WRITERS * PER_WRITER == len({p.entry_id for p in promised})
    signer = app.services.deps.signer
    for p in promised:  # every promise: signed by the log key, its entry stored with that leaf, in a head in time
        entry = by_id[p.entry_id]
        assert p.verify(signer.public_key) and p.covers(entry.leaf_input) and entry.promise == p
        first = min(h.head.timestamp_ms for h in heads if h.size > entry.event.seq)
        assert first <= p.deadline_ms
    assert [h.size for h in heads] == sorted(h.size for h in heads)  # never a smaller tree after a larger one
    report = app.services.audit.verify(world.auditor, "audit", saved_promises=promised)
    assert report.ok, report.problems
    assert report.promises_checked >= 2 * len(promised)  # stored ones and the saved copies


def test_access_is_committed_with_a_promise_before_integration(app, world):
    s = app.services
    visit, view = enroll(s, world.registrar)
    s.transparency.integrate()
    s.people.read(world.registrar, visit.id, CARE, view.person.id)
    with app.database.uow() as uow:
        (entry,) = uow.access_log.latest()
        assert entry.event.action == "read_person" and entry.event.seq is None  # durable, not yet in the tree
        assert entry.promise is not None and entry.promise.verify(s.deps.signer.public_key)
        assert entry.promise.max_delay_ms == app.settings.log_merge_delay_seconds * 1000
    head = s.transparency.integrate()
    with app.database.uow() as uow:
        assert uow.access_log.latest()[0].event.seq == head.size - 1


def _report(app, world, **kw):
    return app.services.audit.verify(world.auditor, "audit", **kw)


def test_forged_and_removed_promises_are_reported(app, world):
    s = app.services
    visit, view = enroll(s, world.registrar)
    s.people.read(world.registrar, visit.id, CARE, view.person.id)
    assert _report(app, world).ok
    with app.database.uow() as uow:
        entries = uow.access_log.promised(0, 1000)
    forged, stripped = entries[-3], entries[-2]
    with app.database.engine.begin() as conn:
        conn.execute(sa.update(access_log).where(access_log.c.id == forged.entry_id).values(promise_sig=bytes(64)))
        conn.execute(
            sa.update(access_log)
            .where(access_log.c.id == stripped.entry_id)
            .values(promise_sig=None, promised_ms=None, promise_delay_ms=None, promise_key=None)
        )
    report = _report(app, world, heads_file=False)
    assert {"bad_promise", "promise_missing"} <= report.kinds(), report.problems
    assert any(p.kind == "bad_promise" and p.index == forged.event.seq for p in report.problems)
    assert any(p.kind == "promise_missing" and p.index == stripped.event.seq for p in report.problems)


def test_a_promised_entry_deleted_before_integration_is_caught_by_its_promise(app, world):
    s = app.services
    visit, view = enroll(s, world.registrar)
    s.transparency.integrate()
    s.people.read(world.registrar, visit.id, CARE, view.person.id)
    with app.database.uow() as uow:
        (entry,) = uow.access_log.latest()
    kept = entry.promise  # as the person or an auditor saved it
    with app.database.engine.begin() as conn:  # an insider removes the entry before the integrator sees it
        conn.execute(sa.delete(access_log).where(access_log.c.id == entry.entry_id))
    assert _report(app, world).ok  # nothing in the database shows it...
    report = _report(app, world, saved_promises=[kept])  # ...the promise does
    assert "promise_missing" in report.kinds(), report.problems
    forged = EntryPromise(kept.entry_id, kept.leaf_hash, kept.timestamp_ms, kept.max_delay_ms, bytes(64), kept.key_id)
    assert "bad_promise" in _report(app, world, saved_promises=[forged]).kinds()


def test_an_entry_integrated_after_its_delay_is_late(app, world):
    s = app.services
    clock = s.deps.clock
    visit, view = enroll(s, world.registrar)
    s.transparency.integrate()
    clock.now = datetime.now(UTC)
    s.people.read(world.registrar, visit.id, CARE, view.person.id)  # promised now, within 60 s
    clock.now += timedelta(seconds=app.settings.log_merge_delay_seconds + 1)  # no integrator ran meanwhile
    report = _report(app, world)
    assert report.kinds() == {"promise_late"}, report.problems


def test_patient_view_checks_each_promise(app, world):
    s = app.services
    _visit, pid = enroll_with_pin(s, world.registrar, card="NK6001")
    patient = s.patients.authenticate(s.patients.login("NK6001", PIN).token)
    views = s.patients.accesses(patient)
    assert views and all(v.promise is not None and v.promise_kept for v in views)
    shown = views[-1].to_dict()
    assert shown["promise_kept"] is True and shown["promise"]["entry_id"] == views[-1].promise.entry_id


def test_the_server_integrates_in_the_background(app, world):
    s = app.services
    app.settings.log_integrate_seconds = 0.05
    visit, view = enroll(s, world.registrar)
    with TestClient(create_app(app.settings, built=app, web=False)):
        with app.database.uow() as uow:
            waiting = uow.access_log.pending()
        assert waiting > 0
        for _ in range(400):  # bounded wait for the background task (no time is asserted)
            with app.database.uow() as uow:
                if uow.access_log.pending() == 0:
                    break
            time.sleep(0.05)
        with app.database.uow() as uow:
            assert uow.access_log.pending() == 0 and uow.tree_heads.latest().size == uow.access_log.size()


@pytest.mark.parametrize("limit", ["identifications_per_hour", "identifications_per_site_per_day"])
def test_parallel_searches_cannot_pass_a_limit_with_the_narrow_locks(app, world, limit):
    s = app.services
    s.deps.settings = s.deps.settings.model_copy(update={limit: 4})
    visit = s.visits.open(world.registrar, "north")
    barrier, outcomes = threading.Barrier(10), []

    def search():
        barrier.wait()
        try:
            s.lookup.by_card(world.registrar, visit.id, CARE, "NK0000")
            outcomes.append("ok")
        except RateLimited:
            outcomes.append("limited")
        except Exception as exc:  # noqa: BLE001 - shown in the assertion
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=search) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["limited"] * 6 + ["ok"] * 4


def test_promises_are_handed_out_only_for_committed_entries(app, world):
    """What ``CareKey-Log-Promise`` carries: a promise of an entry whose transaction rolled back would convict an
    honest log of a missing entry, so the unit of work publishes promises after its commit only."""
    actor = world.clinician
    with collect_promises() as issued:
        with app.database.uow() as uow:
            log_access(uow, datetime.now(UTC), actor, "read_record", "care_record", "granted", "rolled back", "north")
        assert issued == []  # never committed
        with app.database.uow() as uow:
            log_access(uow, datetime.now(UTC), actor, "read_record", "care_record", "granted", "first", "north")
            uow.rollback()
            kept = log_access(uow, datetime.now(UTC), actor, "read_record", "care_record", "granted", "kept", "north")
            assert issued == []  # appended, not yet committed
            uow.commit()
        assert issued == [kept]
    with app.database.uow(read_only=True) as uow:
        assert [e.event.reason for e in uow.access_log.latest(1)] == ["kept"]


def test_a_logged_write_is_not_taken_for_a_deletion_but_a_pseudonymization_is(app, world):
    """The promise stored beside each entry (an UPDATE of access_log) is no deletion of personal data: it must not
    cost every logged request a WAL checkpoint (SQLite); rewriting a person's id at erasure still does."""
    s = app.services
    visit, view = enroll(s, world.registrar)
    with app.database.engine.connect() as conn:
        conn.info.pop(DELETED, None)
        with conn.begin():
            promises = SqlAccessLogRepository(conn, app.database.promises)
            promises.append(*_event(world.clinician))
            conn.execute(sa.update(access_log).where(access_log.c.seq.is_(None)).values(seq=None))
        assert DELETED not in conn.info
        with conn.begin():
            SqlAccessLogRepository(conn).pseudonymize(view.person.id, "X-TESTPSEUDO")
        flagged = conn.info.pop(DELETED, False)
    assert flagged is (app.database.dialect == "sqlite")  # the flag is SQLite's (its WAL keeps old pages)


def _event(actor):  # type: ignore[no-untyped-def]
    from carekey.audit import leaf
    from carekey.domain.access import AccessEvent

    event = AccessEvent(
        datetime.now(UTC),
        actor.user_id,
        actor.role.value,
        "north",
        "care_record",
        "read_record",
        "granted",
        "test",
        None,
    )
    salt = leaf.new_salt()
    return event, salt, leaf.leaf_input(event.leaf_event(), salt)
