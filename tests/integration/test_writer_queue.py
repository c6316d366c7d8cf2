"""SQLite writers queue for their turn (carekey.storage.sql.writers): nothing is lost, no turn is leaked."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading

import sqlalchemy as sa

from carekey.storage.sql.engine import make_engine

INCREMENTS = 25


def _engine(path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT OR IGNORE INTO counter (id, n) VALUES (1, 0)")
    return engine


def _bump(engine: sa.Engine, times: int) -> None:
    for _ in range(times):
        with engine.begin() as conn:  # read, then write: a lost update if two writers overlapped
            n = conn.exec_driver_sql("SELECT n FROM counter WHERE id = 1").scalar_one()
            conn.exec_driver_sql(f"UPDATE counter SET n = {n + 1} WHERE id = 1")


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT n FROM counter WHERE id = 1").scalar_one()


def _run_threads(target, count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer never got its turn"


def test_threads_and_processes_take_turns_without_losing_a_write(tmp_path):
    db = tmp_path / "q.db"
    engine = _engine(db)
    script = (
        "import sys; sys.path.insert(0, 'tests/integration');"
        "from test_writer_queue import _engine, _bump;"
        f"_bump(_engine({str(db)!r}), {INCREMENTS})"
    )
    other = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    _run_threads(lambda: _bump(engine, INCREMENTS), 6)
    assert [p.wait(timeout=120) for p in other] == [0, 0]
    assert _count(engine) == 8 * INCREMENTS
    lock = tmp_path / "q.db-writer"
    assert lock.exists() and lock.stat().st_size == 0 and stat.S_IMODE(lock.stat().st_mode) & 0o077 == 0


def test_a_failed_or_abandoned_transaction_hands_the_turn_on(tmp_path):
    engine = _engine(tmp_path / "q.db")

    def fail() -> None:
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("UPDATE counter SET n = n + 100 WHERE id = 1")
                raise RuntimeError("the request failed")
        except RuntimeError:
            pass

    def abandon() -> None:
        conn = engine.connect()
        conn.begin()
        conn.exec_driver_sql("UPDATE counter SET n = n + 1000 WHERE id = 1")
        conn.close()  # back to the pool without commit: the pool's reset rolls back

    _run_threads(fail, 3)
    _run_threads(abandon, 3)
    _run_threads(lambda: _bump(engine, 5), 4)  # would hang (a leaked turn) or lose updates
    assert _count(engine) == 20


def test_a_read_only_transaction_does_not_wait_for_the_writer(tmp_path):
    from carekey.storage.sql.engine import READ_ONLY

    engine = _engine(tmp_path / "q.db")
    writing, done = threading.Event(), threading.Event()

    def writer() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE counter SET n = 7 WHERE id = 1")
            writing.set()
            done.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    assert writing.wait(30)
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn, conn.begin():
        assert conn.exec_driver_sql("SELECT n FROM counter WHERE id = 1").scalar_one() == 0  # the last commit
    done.set()
    t.join(30)
    assert _count(engine) == 7
