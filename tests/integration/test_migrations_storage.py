"""Schema and repositories on SQLite and PostgreSQL."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from carekey.audit import leaf
from carekey.domain.access import AccessEvent
from carekey.errors import Conflict
from carekey.storage.database import Database
from carekey.storage.protocols import PersonRow
from carekey.storage.sql.tables import metadata

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def test_migrations_produce_the_models_schema(db_url):
    db = Database(db_url)
    db.migrate()
    db.migrate()  # idempotent
    assert db.is_current()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        tables = set(sa.inspect(conn).get_table_names())
    db.dispose()
    assert diff == []
    assert {"people", "exams", "consents", "access_log", "sessions", "biometric_templates"} <= tables


def test_sqlite_pragmas(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    db.dispose()


def _person(pid: str, card: str) -> PersonRow:
    return PersonRow(
        id=pid,
        program_id="demo",
        card_bidx=card,
        name_bidx="n",
        birth_year_bidx="y",
        village_bidx="v",
        key_ref="k-" + pid,
        wrapped_key=b"w",
        ciphertext=b"c",
        enrolled_site="north",
        enrolled_at=T0,
        last_seen_at=T0,
    )


def test_people_repository_roundtrip_and_unique_card(app, world):
    with app.database.uow() as uow:
        uow.people.add(_person("CK-AAAA-AAAA", "card1"))
        uow.commit()
        assert uow.people.get("CK-AAAA-AAAA") == _person("CK-AAAA-AAAA", "card1")
        assert uow.people.by_card("demo", "card1").id == "CK-AAAA-AAAA"
        assert [r.id for r in uow.people.candidates("demo", ["y"], "v", 10)] == ["CK-AAAA-AAAA"]
        assert uow.people.candidates("demo", ["y"], "other", 10) == []
    with app.database.uow() as uow, pytest.raises(Conflict):
        uow.people.add(_person("CK-BBBB-BBBB", "card1"))
    with app.database.uow() as uow:
        assert uow.people.count() == 1


def test_access_log_seq_contiguous_and_refusal_counts(app, world):
    app.services.transparency.integrate()
    with app.database.uow() as uow:
        base = uow.access_log.size()  # the world's setup (accounts created and approved) is logged before
        ids = []
        for i, outcome in enumerate(["granted", "refused", "denied", "refused"]):
            event = AccessEvent(
                at=T0.replace(day=1 + i),
                actor_id="U",
                role="registrar",
                site_id="north",
                purpose="law_enforcement" if outcome == "refused" else "care_record",
                action="lookup",
                outcome=outcome,
                reason="r",
            )
            salt = leaf.new_salt()
            promise = uow.access_log.append(event, salt, leaf.leaf_input(event.leaf_event(), salt))
            ids.append(promise.entry_id)
        uow.commit()
        assert ids == sorted(ids) and len(set(ids)) == 4  # database-generated, increasing
        assert uow.access_log.size() == base and uow.access_log.pending() == 4  # committed, not yet integrated
        assert uow.access_log.integrate(100) == 4
        assert uow.access_log.integrate(100) == 0  # idempotent: only entries without a leaf index are taken
        uow.commit()
        assert uow.access_log.size() == base + 4 == uow.access_log.tree().size
        assert [e.event.seq for e in uow.access_log.entries(0, base + 10)] == list(range(base + 4))
        entry = uow.access_log.entries(1, 2)[0]
        assert entry.leaf_input == leaf.leaf_input(entry.event.leaf_event(), entry.salt)
        assert uow.access_log.refusal_counts() == [("law_enforcement", "2026-11", 2)]


def test_unit_of_work_rolls_back_everything(app, world):
    with pytest.raises(RuntimeError), app.database.uow() as uow:
        uow.people.add(_person("CK-CCCC-CCCC", "card2"))
        raise RuntimeError("crash mid-transaction")
    with app.database.uow() as uow:
        assert uow.people.get("CK-CCCC-CCCC") is None
