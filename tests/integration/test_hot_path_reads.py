"""The statements of a logged write, and the reads it saves (issue 21): the visit comes with its offers, a site
is read once per database, ``last_seen_at`` is moved at most once an hour. Each saving must stay correct: a new
offer, a rolled-back site, a person not seen for hours."""

import contextlib
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from carekey.domain.program import Site
from carekey.storage.sql.engine import ReadOnlyViolation
from tests.integration.helpers import CARE, enroll, revisit


@pytest.fixture
def statements(app):
    seen: list[str] = []

    def _record(conn, cursor, statement, params, context, executemany):  # noqa: ARG001
        seen.append(" ".join(statement.split()))

    event.listen(app.database.engine, "before_cursor_execute", _record)
    yield seen
    event.remove(app.database.engine, "before_cursor_execute", _record)


def _last_seen(app, pid):
    with app.database.engine.connect() as conn:
        return conn.execute(sa.text("SELECT last_seen_at FROM people WHERE id = :p"), {"p": pid}).scalar_one()


def test_record_exam_reads_visit_and_offers_once_and_touches_once_an_hour(app, world, statements):
    s = app.services
    visit, view = enroll(s, world.registrar)
    pid = view.person.id
    s.exams.record(world.clinician, visit.id, CARE, pid, {"pulse": 70})  # first: the site is read and kept
    before = _last_seen(app, pid)
    statements.clear()
    s.exams.record(world.clinician, visit.id, CARE, pid, {"pulse": 71})
    sql = [q.split(" (")[0] for q in statements]
    assert sum(q.startswith("SELECT") and " FROM visits" in q for q in sql) == 1
    assert not any("FROM visit_offers" in q and "visits" not in q for q in sql)  # offers came with the visit
    assert not any(q.startswith("SELECT") and "FROM sites" in q for q in sql)  # the site is known
    assert not any(q.startswith("UPDATE people") for q in sql)  # seen moments ago
    assert _last_seen(app, pid) == before
    # two hours later the visit is still open (a long screening day): this exam moves last_seen_at
    s.deps.clock.now = s.deps.clock() + timedelta(hours=2)
    statements.clear()
    s.exams.record(world.clinician, visit.id, CARE, pid, {"pulse": 72})
    assert sum(q.startswith("UPDATE people") for q in statements) == 1
    assert _last_seen(app, pid) != before
    assert len(s.exams.read(world.clinician, visit.id, CARE, pid)) == 3


def test_offers_read_with_the_visit_see_a_new_offer_in_the_same_transaction(app, world):
    s = app.services
    _, first = enroll(s, world.registrar)
    _, other = enroll(s, world.registrar, card_number="NK2002", given_name="Kofi")
    visit = revisit(s, world.registrar, first)
    with app.database.uow() as uow:
        assert uow.visits.get(visit.id) is not None
        before = uow.visits.offers(visit.id)
        assert first.person.id in before and other.person.id not in before
        uow.visits.offer(visit.id, other.person.id, "card")
        assert uow.visits.offers(visit.id) == before | {other.person.id: "card"}
        uow.rollback()
        assert uow.visits.offers(visit.id) == before  # read again after the rollback, not the cached copy


def test_a_site_added_in_a_rolled_back_transaction_is_not_remembered(app, world):
    with app.database.uow() as uow:
        uow.programs.add_site(Site("ghost", "demo", "Ghost clinic", "Nowhere"))
        assert uow.programs.get_site("ghost") is not None  # its own transaction sees it
        uow.rollback()
    with app.database.uow() as uow:
        assert uow.programs.get_site("ghost") is None
        assert uow.programs.get_site("north") == Site("north", "demo", "North clinic", "Northern")
    with app.database.uow() as uow:  # remembered now (committed sites never change): the same answer
        assert uow.programs.get_site("north") == Site("north", "demo", "North clinic", "Northern")


def test_a_write_in_a_read_only_unit_of_work_is_refused_and_lost(app, world):
    """PostgreSQL runs read-only units of work in autocommit (no BEGIN / COMMIT round trips): the engine refuses a
    write before it is sent; SQLite's deferred transaction is rolled back. Either way nothing is written."""
    pg = app.database.engine.dialect.name == "postgresql"
    with pytest.raises(ReadOnlyViolation) if pg else contextlib.nullcontext():  # noqa: SIM117
        with app.database.uow(read_only=True) as uow:
            uow._conn.execute(
                sa.text("INSERT INTO sites (id, program_id, name, district) VALUES ('x', 'demo', 'X', 'X')")
            )
    if pg:  # a row lock (SQLite has no FOR UPDATE)
        with pytest.raises(ReadOnlyViolation), app.database.uow(read_only=True) as uow:
            uow._conn.execute(sa.text("SELECT id FROM sites WHERE id = 'north' FOR UPDATE")).all()
    with app.database.uow(read_only=True) as uow:
        assert uow.programs.get_site("x") is None
        assert uow.programs.get_site("north") is not None


@pytest.mark.postgres
def test_a_connection_killed_while_idle_is_replaced_at_checkout(monkeypatch):
    """No ping on every checkout (a round trip per request): a pooled connection idle for PING_AFTER_IDLE_S is
    pinged and replaced if dead; one used moments ago fails its statement as StorageUnavailable (503) once, and
    the pool then drops every connection made before the failure."""
    from carekey.errors import StorageUnavailable
    from carekey.storage.database import Database
    from carekey.storage.sql import engine as engine_module
    from tests.conftest import pg_url_or_skip, reset_pg

    url = pg_url_or_skip()
    reset_pg(url)
    db = Database(url)
    db.migrate()

    def kill_backends() -> None:
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

    def read() -> int:
        with db.uow(read_only=True) as uow:
            return len(uow.programs.list_programs())

    try:
        assert read() == 0
        kill_backends()
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # idle long enough: pinged, replaced
        assert read() == 0
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)  # in use moments ago: not pinged
        kill_backends()
        with pytest.raises(StorageUnavailable):
            read()
        assert read() == 0  # the pool recovered by itself
    finally:
        db.dispose()


@pytest.mark.postgres
def test_postgresql_connections_of_a_burst_are_kept_for_the_next_one():
    """16 requests at once on one worker: their 16 connections stay open in the pool afterwards (SQLAlchemy's
    default kept 5 and closed the rest, and the next burst started new PostgreSQL backends)."""
    import threading

    from carekey.storage.database import Database
    from carekey.storage.sql import engine as engine_module
    from tests.conftest import pg_url_or_skip, reset_pg

    url = pg_url_or_skip()
    reset_pg(url)
    db = Database(url)
    db.migrate()
    barrier = threading.Barrier(engine_module.PG_POOL_SIZE)

    def request() -> None:
        with db.uow(read_only=True) as uow:
            uow.programs.list_programs()
            barrier.wait(timeout=30)  # all connections out at once

    try:
        threads = [threading.Thread(target=request) for _ in range(engine_module.PG_POOL_SIZE)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert db.engine.pool.checkedin() == engine_module.PG_POOL_SIZE
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as admin:
            open_now = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]
        assert open_now >= engine_module.PG_POOL_SIZE
    finally:
        db.dispose()
