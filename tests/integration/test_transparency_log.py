"""The persistent transparency log on SQLite and PostgreSQL: tree in the same unit of work, signed heads,
and `log verify` naming each kind of tampering done directly in the database."""

import pytest
import sqlalchemy as sa

from carekey.audit.merkle import MerkleLog, leaf_hash, reference_root
from carekey.audit.sth import SignedTreeHead
from carekey.storage.sql.access_log import SqlAccessLogRepository
from carekey.storage.sql.log_tree import SqlNodeStore
from carekey.storage.sql.tables import access_log, log_nodes, tree_heads
from tests.integration.helpers import CARE, enroll


def busy_log(app, world, people=3):
    s = app.services
    for i in range(people):
        visit, view = enroll(s, world.registrar, card_number=f"NK20{i}", given_name=f"P{i}")
        s.people.read(world.registrar, visit.id, CARE, view.person.id)
        s.exams.record(world.clinician, visit.id, CARE, view.person.id, {"systolic_bp": 120, "diastolic_bp": 80})
    return s.transparency.tree_head()


def verify(app, world, heads=()):
    return app.services.audit.verify(world.auditor, "audit", heads)


def test_tree_matches_log_and_head_is_signed(app, world):
    head = busy_log(app, world)
    with app.database.uow() as uow:
        leaves = uow.access_log.leaves()
        tree = uow.access_log.tree()
        assert [i for i, _ in leaves] == list(range(len(leaves))) and tree.size == len(leaves) == head.sth.size
        assert tree.root() == reference_root([leaf_hash(d) for _, d in leaves]) == head.sth.root
    assert head.sth.verify(head.public_key)
    assert app.services.transparency.tree_head().sth == head.sth  # nothing appended: same head, not re-signed
    report = verify(app, world)
    assert report.ok, report.problems


def test_signing_key_is_a_0600_file_outside_the_database(app):
    path = app.settings.resolved_log_key_file()
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600
    with app.database.engine.connect() as conn:
        dump = repr(conn.execute(sa.select(tree_heads)).all())
    assert path.read_text().strip() not in dump


def test_log_append_failure_leaks_no_data_and_logs_nothing(app, world, monkeypatch):
    s = app.services
    visit, view = enroll(s, world.registrar)
    s.transparency.integrate()
    with app.database.uow() as uow:
        before = uow.access_log.latest()[0].entry_id

    def broken(self, event, salt, leaf_input):
        raise RuntimeError("access log unavailable")

    monkeypatch.setattr(SqlAccessLogRepository, "append", broken)
    with pytest.raises(RuntimeError):
        s.people.read(world.registrar, visit.id, CARE, view.person.id)
    monkeypatch.undo()
    with app.database.uow() as uow:
        assert uow.access_log.latest()[0].entry_id == before and uow.access_log.pending() == 0


def test_integration_failure_rolls_back_whole_batch(app, world, monkeypatch):
    s = app.services
    visit, view = enroll(s, world.registrar)
    s.transparency.integrate()
    with app.database.uow() as uow:
        before = uow.access_log.size()
    s.people.read(world.registrar, visit.id, CARE, view.person.id)  # committed, promised, waiting

    def broken(self, nodes):
        raise RuntimeError("node store unavailable")

    monkeypatch.setattr(SqlNodeStore, "add", broken)
    with pytest.raises(RuntimeError):
        s.transparency.integrate()
    monkeypatch.undo()
    with app.database.uow() as uow:  # no leaf index was given without its nodes
        assert uow.access_log.size() == before == uow.access_log.tree().size and uow.access_log.pending() == 1
    assert s.transparency.integrate().size == before + 1  # the next run integrates it


def _exec(app, stmt):
    with app.database.engine.begin() as conn:
        conn.execute(stmt)


def _row(app, seq):
    with app.database.engine.connect() as conn:
        return dict(conn.execute(sa.select(access_log).where(access_log.c.seq == seq)).one()._mapping)


TAMPERING = {
    "modified_leaf": (
        lambda app: _exec(
            app,
            sa.update(access_log).where(access_log.c.seq == 4).values(leaf_input=b"carekey-access-v1\x00" + bytes(32)),
        ),
        "modified",
        4,
    ),
    "modified_fields": (
        lambda app: _exec(
            app, sa.update(access_log).where(access_log.c.seq == 5).values(outcome="denied", purpose="audit")
        ),
        "modified",
        5,
    ),
    "removed": (lambda app: _exec(app, sa.delete(access_log).where(access_log.c.seq == 3)), "removed", 3),
    "inserted": (
        lambda app: _exec(
            app,
            sa.insert(access_log).values(
                _row(app, 2)
                | {"id": 10_000, "seq": _size(app), "leaf_input": b"carekey-access-v1\x00" + bytes(range(32))}
            ),
        ),
        "inserted",
        None,
    ),
    "reordered": (lambda app: _swap(app, 6, 7), "reordered", 6),
}


def _size(app):
    with app.database.uow() as uow:
        return uow.access_log.size()


def _swap(app, a, b):
    ra, rb = _row(app, a), _row(app, b)
    fields = [k for k in ra if k not in ("seq", "id")]
    _exec(app, sa.update(access_log).where(access_log.c.seq == a).values({k: rb[k] for k in fields}))
    _exec(app, sa.update(access_log).where(access_log.c.seq == b).values({k: ra[k] for k in fields}))


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_log_verify_names_the_tampering(app, world, kind):
    busy_log(app, world)
    tamper, expected, index = TAMPERING[kind]
    tamper(app)
    report = verify(app, world)
    assert not report.ok
    assert expected in report.kinds(), report.problems
    if index is not None:
        assert any(p.kind == expected and p.index == index for p in report.problems), report.problems


def test_rewritten_database_caught_by_heads_saved_outside(app, world):
    saved = SignedTreeHead.from_json(busy_log(app, world).sth.to_json())  # e.g. `carekey log head --save`
    with app.database.uow() as uow:
        size = uow.access_log.size()
    # a thorough attacker drops the last entries, rebuilds the tree from what is left, deletes every stored head
    _exec(app, sa.delete(access_log).where(access_log.c.seq >= size - 3))
    _exec(app, sa.delete(log_nodes))
    with app.database.engine.begin() as conn:
        MerkleLog(SqlNodeStore(conn)).extend(
            d for (d,) in conn.execute(sa.select(access_log.c.leaf_input).order_by(access_log.c.seq))
        )
    _exec(app, sa.delete(tree_heads))
    assert app.services.audit.verify(world.auditor, "audit", heads_file=False).ok  # the database alone looks fine...
    report = app.services.audit.verify(world.auditor, "audit", [saved], heads_file=False)  # ...not with a saved head
    assert "removed" in report.kinds(), report.problems
    # nor with the heads file the server keeps outside the database (the audits since re-grew the log)
    assert verify(app, world).kinds() & {"removed", "root_mismatch", "node_store_mismatch"}


def test_log_key_rotated_in_the_running_server_verifies_and_restarts(app, world):
    """The admin's web rotation (``bootstrap.rotate_log_key_live``) on both backends: decided and logged as the
    admin, the running services sign with the new key at once, every old head and promise still verifies, a
    restart accepts the new key file; a registrar is refused and nothing changes."""
    from carekey import bootstrap
    from carekey.audit.sth import LogSigner
    from carekey.errors import Forbidden

    before = busy_log(app, world)
    old = app.services.transparency.public_key()
    with pytest.raises(Forbidden):
        bootstrap.rotate_log_key_live(app.settings, app.services, world.registrar)
    assert app.services.transparency.public_key() == old
    assert not app.settings.resolved_log_key_file().with_name("carekey.log.key.new").exists()
    rotated = bootstrap.rotate_log_key_live(app.settings, app.services, world.admin)
    new = app.services.transparency.public_key()
    assert new != old and rotated["public_key"] == new.hex() and rotated["old_key_id"] != rotated["new_key_id"]
    assert LogSigner.load(app.settings.resolved_log_key_file()).public_key == new
    enroll(app.services, world.registrar, card_number="NK3001", given_name="Q")  # promised by the new key
    after = app.services.transparency.tree_head()
    assert after.sth.verify(new) and not after.sth.verify(old) and before.sth.verify(old)
    with app.database.uow() as uow:
        entries = uow.access_log.entries(0, uow.access_log.size())
    rotations = [(e.event.actor_id, e.event.outcome) for e in entries if e.event.action == "log_key_rotate"]
    assert rotations == [(world.registrar.user_id, "denied"), (world.admin.user_id, "granted")]
    report = verify(app, world)
    assert report.ok, report.problems
    _, _, db, signer = bootstrap.open_checked(app.settings, migrate=False)  # a restart: the key check names the new key
    try:
        assert signer.public_key == new
    finally:
        db.dispose()
