"""The SQL node store against the in-memory reference, the 0002 backfill of logs written before it, and
concurrent appends on both backends."""

import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carekey.audit import leaf
from carekey.audit.merkle import MerkleLog, leaf_hash, reference_root, verify_consistency, verify_inclusion
from carekey.domain.access import AccessEvent
from carekey.storage.database import Database, alembic_config
from carekey.storage.sql.engine import make_engine
from carekey.storage.sql.log_tree import SqlNodeStore
from carekey.storage.sql.tables import log_nodes, metadata
from tests.integration.helpers import CARE, enroll

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leaves=st.lists(st.binary(max_size=12), min_size=1, max_size=40), data=st.data())
def test_sql_node_store_gives_the_reference_tree(leaves, data):
    engine = make_engine("sqlite://")
    metadata.create_all(engine, tables=[log_nodes])
    with engine.begin() as conn:
        sql, ref = MerkleLog(SqlNodeStore(conn)), MerkleLog()
        sql.extend(leaves)
        ref.extend(leaves)
        n = len(leaves)
        m = data.draw(st.integers(1, n))
        i = data.draw(st.integers(0, m - 1))
        assert sql.root(m) == ref.root(m) == reference_root([leaf_hash(x) for x in leaves[:m]])
        assert verify_inclusion(leaf_hash(leaves[i]), i, m, sql.inclusion_proof(i, m), ref.root(m))
        assert verify_consistency(m, n, ref.root(m), ref.root(n), sql.consistency_proof(m, n))
    engine.dispose()


def _event(i: int) -> AccessEvent:
    return AccessEvent(
        at=T0,
        actor_id=f"U-{i}",
        role="registrar",
        site_id="north",
        purpose="care_record",
        action="lookup",
        outcome="granted",
        reason="r",
    )


#: the access log as migration 0001 made it (no ``id`` column yet: migration 0005)
_LOG_0001 = sa.table(
    "access_log",
    *(
        sa.column(c)
        for c in (
            "seq",
            "at",
            "month",
            "actor_id",
            "role",
            "site_id",
            "purpose",
            "action",
            "outcome",
            "reason",
            "salt",
            "leaf_input",
        )
    ),
)


def test_migration_0002_hashes_a_log_written_before_it(db_url):
    db = Database(db_url)
    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    inputs = []
    with db.engine.begin() as conn:  # the core's log, before the tree existed
        for i in range(13):
            salt = leaf.new_salt()
            inputs.append(leaf.leaf_input(_event(i).leaf_event(), salt))
            conn.execute(
                sa.insert(_LOG_0001).values(
                    seq=i,
                    at=T0,
                    month="2026-01",
                    actor_id=f"U-{i}",
                    role="registrar",
                    site_id="north",
                    purpose="care_record",
                    action="lookup",
                    outcome="granted",
                    reason="r",
                    salt=salt,
                    leaf_input=inputs[-1],
                )
            )
    db.migrate()
    with db.uow() as uow:
        tree = uow.access_log.tree()
        assert tree.size == 13 and tree.root() == reference_root([leaf_hash(x) for x in inputs])
        salt = leaf.new_salt()
        # migration 0005: the old entries keep their leaf index; the new one gets an id after theirs (seq + 1)
        assert uow.access_log.append(_event(13), salt, leaf.leaf_input(_event(13).leaf_event(), salt)) == 14
        assert uow.access_log.tree().size == 13 and uow.access_log.integrate(10) == 1
        assert uow.access_log.tree().size == 14 and uow.access_log.entries(13, 14)[0].entry_id == 14
        uow.commit()
    db.dispose()


def test_concurrent_accesses_keep_log_and_tree_contiguous(app, world):
    s = app.services
    people = [enroll(s, world.registrar, card_number=f"NK9{i}", given_name=f"C{i}") for i in range(3)]
    errors = []

    def reads(visit, view):
        try:
            for _ in range(4):
                s.people.read(world.registrar, visit.id, CARE, view.person.id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reads, args=p) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s.transparency.integrate()
    with app.database.uow() as uow:
        assert uow.access_log.pending() == 0
        seqs = [i for i, _ in uow.access_log.leaves()]
        assert seqs == list(range(len(seqs))) and uow.access_log.tree().size == len(seqs)
    s.transparency.tree_head()
    assert s.audit.verify(world.auditor, "audit").ok
