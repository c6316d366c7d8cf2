"""Engines for SQLite (embedded default) and PostgreSQL; the dialect differences live here.

SQLite: WAL journal, foreign keys on, a busy timeout, and every writing transaction opened with
``BEGIN IMMEDIATE`` so that there is exactly one writer at a time across threads and processes.
A read-only unit of work (execution option ``READ_ONLY``) opens ``BEGIN DEFERRED`` instead: it reads
one WAL snapshot and takes no write lock, so it neither waits for nor blocks the writer.
pysqlite's own implicit transaction handling is switched off so
that SQLAlchemy's ``begin`` is the only place a transaction starts (the recipe from the SQLAlchemy
SQLite dialect documentation).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from carekey.storage.sql.writers import WriterQueue

BUSY_TIMEOUT_MS = 30_000
_LOG_LOCK_KEY = 0x6361_7265  # "care": PostgreSQL advisory lock held by the log integrator (one at a time)
_LIMIT_LOCK_CLASS = 0x636B_6C6D  # "cklm": namespace of the per-actor / per-site rate-limit advisory locks
_FEED_LOCK_KEY = 0x6665_6564  # "feed": PostgreSQL advisory lock serializing template-feed writers
READ_ONLY = "carekey_read_only"  # connection execution option: a deferred transaction (SQLite ``BEGIN``)
#: statements that remove personal data: the connection is checkpointed after their commit (SQLite). Of the
#: access log's updates only the pseudonymization at erasure (it rewrites ``person_id``/``actor_id`` and drops the
#: salt) removes personal data; the update that stores an entry's signed promise (every logged request) does not,
#: and checkpointing after it cost every logged write a ``wal_checkpoint(TRUNCATE)`` (an fsync, and a wait for
#: readers).
_PERSONAL_DELETE = re.compile(
    r"^\s*(DELETE\s+FROM\s+(people|exams|consents|biometric_templates|biometric_images)\b"
    r"|UPDATE\s+access_log\s+SET\s+(?:(?!\bWHERE\b).)*?\b(person_id|actor_id|salt)\s*=)",
    re.IGNORECASE | re.DOTALL,
)
DELETED = "carekey_deleted_personal_data"


def private_sqlite_files(url: str) -> None:
    """An existing database file, its WAL and SHM tightened to 0600 (new ones are 0600 by the umask): SQLite
    creates the -wal and -shm files with the permissions of the database file (os_unix.c, findCreateFileMode)."""
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)  # a new file is created 0600 by the process umask (bootstrap.restrict_new_files); never here,
    # so that a deleted database is noticed (bootstrap refuses to start) rather than silently recreated
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if f.exists() and f.stat().st_mode & 0o077 and f.stat().st_uid == os.getuid():
            os.chmod(f, 0o600)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        private_sqlite_files(url)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
        name = make_url(url).database
        on_disk = bool(name) and name != ":memory:" and not str(name).startswith("file:")
        writers = WriterQueue(Path(str(name)) if on_disk else None, BUSY_TIMEOUT_MS / 1000)
        _hand_over_on_end(engine, writers)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            for pragma in (
                "journal_mode=WAL",
                "foreign_keys=ON",
                f"busy_timeout={BUSY_TIMEOUT_MS}",
                "synchronous=NORMAL",
                "secure_delete=ON",
            ):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # read-only blocks (searches, the gallery feed) take no write lock: WAL readers never block a writer
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN DEFERRED")
                return
            raw = conn.connection.dbapi_connection
            writers.acquire(raw)  # queue for the one writer (carekey.storage.sql.writers), then take SQLite's lock
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writers.release(raw)
                raise

        @event.listens_for(engine, "after_cursor_execute")
        def _on_execute(conn, _cursor, statement, _params, _context, _many):
            if _PERSONAL_DELETE.match(statement):
                conn.info[DELETED] = True

        return engine
    if url.startswith("postgresql"):
        engine = create_engine(url, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_OVERFLOW)
        _ping_when_idle(engine)
        _refuse_writes_when_read_only(engine)
        return engine
    raise ValueError(f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:/// or postgresql+psycopg://")


PING_AFTER_IDLE_S = 5.0
# Connections a process keeps open to PostgreSQL, and how many more it may open for a burst. SQLAlchemy's default
# (5 kept) closed a connection at nearly every check-in under 16 concurrent requests per worker and opened a new
# one for the next request: a PostgreSQL backend started (fork, authentication, catalog caches, prepared
# statements lost) for many requests (issue 21: record exam at 32 clients, bench/results/load.md).
PG_POOL_SIZE = 16
PG_POOL_OVERFLOW = 8


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled PostgreSQL connection before use when it has been idle for ``PING_AFTER_IDLE_S``, not before
    every use (``pool_pre_ping``: a round trip on every checkout, two per request, issue 21). A connection in
    use moments ago is alive or its failure is met by the statement itself: a ``StorageUnavailable`` (503 +
    ``Retry-After``), and SQLAlchemy then invalidates every connection of the pool made before the failure (its
    disconnect handling), so one request per worker sees a restart, not one per pooled connection. After a quiet
    spell (a restart overnight) the first requests get a live connection: a dead one is replaced at checkout."""

    @event.listens_for(engine.pool, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure of the ping means: use another connection
            raise sa_exc.DisconnectionError(f"idle connection failed its ping: {type(exc).__name__}") from exc
        if not alive:
            raise sa_exc.DisconnectionError("idle connection failed its ping")


# what a READ ONLY transaction of PostgreSQL refuses (writes, row locks, advisory locks, sequences)
_WRITE = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|TRUNCATE|GRANT|REVOKE|LOCK|COPY|CALL|DO)\b"
    r"|\bFOR\s+(NO\s+KEY\s+)?(UPDATE|SHARE)\b|pg_advisory|nextval|setval",
    re.IGNORECASE,
)


def _refuse_writes_when_read_only(engine: Engine) -> None:
    """A read-only unit of work on PostgreSQL runs its statements in autocommit (``uow.py``: no ``BEGIN`` and
    ``COMMIT`` round trips; READ COMMITTED gives each statement its own snapshot in a transaction too, so nothing
    is lost). PostgreSQL then no longer refuses a write in it (``BEGIN READ ONLY`` did): this does, before the
    statement is sent."""

    @event.listens_for(engine, "before_cursor_execute")
    def _refuse(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY) and _WRITE.search(statement):
            raise ReadOnlyViolation(f"a write in a read-only unit of work: {statement.split(None, 1)[0]}")


class ReadOnlyViolation(RuntimeError):
    """A statement that writes (or locks) sent in a read-only unit of work: a bug of the caller."""


def _hand_over_on_end(engine: Engine, writers: WriterQueue) -> None:
    """Release the writer's turn when its transaction ends: after the DBAPI commit or rollback (SQLAlchemy's
    ``commit``/``rollback`` events fire before them, too early), and when the pool resets, closes or invalidates
    the connection."""
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def raw(proxied: Any) -> Any:  # the dialect gets the pool's proxy, the pool events the DBAPI connection
        return getattr(proxied, "dbapi_connection", proxied)

    def do_commit(proxied: Any) -> None:
        try:
            commit(proxied)
        finally:
            writers.release(raw(proxied))

    def do_rollback(proxied: Any) -> None:
        try:
            rollback(proxied)
        finally:
            writers.release(raw(proxied))

    dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign,assignment]
    for name in ("reset", "close", "invalidate", "close_detached"):
        event.listen(engine.pool, name, lambda dbapi_conn, *_: writers.release(dbapi_conn))


def lock_log(conn: Connection, wait: bool = True) -> bool:
    """The integrator's lock, to the end of the transaction: one integrator at a time assigns leaf indexes
    (``seq``) and writes tree nodes (SQLite already has one writer). Appends never take it. With ``wait`` False,
    returns False at once when another integrator holds it."""
    if conn.dialect.name != "postgresql":
        return True
    if wait:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOG_LOCK_KEY})
        return True
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOG_LOCK_KEY}).scalar_one())


def lock_names(conn: Connection, names: list[str]) -> None:
    """Advisory locks on these names to the end of the transaction (PostgreSQL; SQLite's write transaction
    already serializes): a count-then-append made under them stays true for others taking the same names.
    Taken in sorted order, so two transactions never wait on each other in a cycle."""
    if conn.dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:c, :k)"), {"c": _LIMIT_LOCK_CLASS, "k": key})


def lock_feed(conn: Connection) -> None:
    """Serialize writers of the template feed to the end of their transaction, so that feed rows commit in
    ``seq`` order and a reader that has seen ``seq`` n never later finds a row below n (SQLite: one writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _FEED_LOCK_KEY})


def checkpoint_after_delete(conn: Connection) -> bool:
    """After a committed deletion of personal data on SQLite: ``wal_checkpoint(TRUNCATE)``, so that no earlier
    copy of the deleted rows stays in the ``-wal`` file. Waits for readers (busy timeout); returns False when
    the checkpoint could not complete (it is then retried after the next deletion). Outside any transaction."""
    if not conn.info.pop(DELETED, False) or conn.dialect.name != "sqlite":
        return True
    return wal_checkpoint(conn)


def wal_checkpoint(conn: Connection) -> bool:
    if conn.dialect.name != "sqlite":
        return True
    raw = conn.connection.dbapi_connection
    assert raw is not None
    busy, _log, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0
