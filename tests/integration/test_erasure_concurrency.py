"""Crypto-shredding survives a database copy; concurrent duplicate enrollment ends with one person."""

import sqlite3
import threading
from contextlib import closing

import pytest
import sqlalchemy as sa

from carekey.crypto.envelope import SealedKey
from carekey.domain.purposes import CONSENT_PURPOSES
from carekey.errors import Conflict, Forbidden, NotFound
from carekey.services.records import open_exam, open_person
from carekey.storage.database import Database
from tests.integration.helpers import CARE, consent, enroll, person_input


def _snapshot(app, pid):
    """What an attacker holding a pre-erasure copy of the database has: every column of the person's rows."""
    with app.database.uow() as uow:
        return uow.people.get(pid), uow.exams.for_person(pid)


def test_erased_data_undecryptable_from_a_copy_taken_before(app, world):
    s = app.services
    visit, view = enroll(s, world.registrar)
    pid = view.person.id
    s.exams.record(world.clinician, visit.id, CARE, pid, {"pulse": 72, "blood_type": "O+"})
    row, exams = _snapshot(app, pid)
    crypto = s.deps.crypto
    assert open_person(crypto, row).family_name == "Mensah"  # the copy is readable before erasure

    s.people.erase(world.registrar, visit.id, CARE, pid)

    with pytest.raises(NotFound, match="destroyed"):
        open_person(crypto, row)
    with pytest.raises(NotFound):
        crypto.data_key(pid, SealedKey(row.key_ref, row.wrapped_key))
    with app.database.uow() as uow:
        assert uow.people.get(pid) is None and uow.exams.for_person(pid) == []
        assert uow.consents.history(pid) == []
    with pytest.raises(Forbidden):  # the erased person is no longer anyone this visit can reach
        s.exams.read(world.clinician, visit.id, CARE, pid)
    assert exams  # and the exams of the copy are sealed under the same destroyed key
    with pytest.raises(NotFound):
        open_exam(crypto, crypto.data_key(pid, SealedKey(row.key_ref, row.wrapped_key)), exams[0])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # a file copy applies to the embedded database
def test_sqlite_file_copy_is_useless_after_erasure(tmp_path, app, world):
    s = app.services
    visit, view = enroll(s, world.registrar)
    pid = view.person.id
    db_file = app.settings.resolved_database_url().removeprefix("sqlite:///")
    with closing(sqlite3.connect(db_file)) as src, closing(sqlite3.connect(tmp_path / "copy.db")) as dst:
        src.backup(dst)  # a consistent copy of the database file (WAL included), as a backup would take
    s.people.erase(world.registrar, visit.id, CARE, pid)
    copy = Database(f"sqlite:///{tmp_path / 'copy.db'}")
    with copy.uow() as uow:
        row = uow.people.get(pid)
    copy.dispose()
    assert row is not None and row.wrapped_key  # the copy still holds the wrapped key...
    with pytest.raises(NotFound):  # ...but the current key file and key store cannot unwrap it
        open_person(s.deps.crypto, row)


def test_concurrent_duplicate_enrollment_ends_with_one_person(app, world):
    s = app.services
    visits = {"north": s.visits.open(world.registrar, "north"), "south": s.visits.open(world.registrar_south, "south")}
    actors = {"north": world.registrar, "south": world.registrar_south}
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def run(site):
        barrier.wait()
        try:
            results[site] = s.people.enroll(
                actors[site], visits[site].id, CARE, person_input(card_number="DUP-77"), consent()
            )
        except Conflict as exc:
            results[site] = exc

    threads = [threading.Thread(target=run, args=(site,)) for site in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # the loser's 409 is the demographic possible-duplicate (same name, birth year and village) or the card's
    kinds = sorted("Conflict" if isinstance(r, Conflict) else type(r).__name__ for r in results.values())
    assert kinds == ["Conflict", "PersonView"], results
    with app.database.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM people")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM consents")).scalar_one() == len(CONSENT_PURPOSES)
    assert s.deps.crypto._store.count() == 1  # the loser's key secret was destroyed too


def test_lookup_skips_a_shredded_row(app, world):
    """An erasure interrupted after shredding but before its commit must not break lookups for everyone."""
    s = app.services
    _, view = enroll(s, world.registrar)
    _, other = enroll(s, world.registrar, card_number="NK2002", given_name="Amah")
    with app.database.uow() as uow:
        s.deps.crypto.shred(uow.people.get(view.person.id).key_ref)
    visit = s.visits.open(world.registrar, "north")
    hits = s.lookup.by_name(world.registrar, visit.id, CARE, "Ama Mensah", 1980)
    assert [c.person_id for c in hits] == [other.person.id]
