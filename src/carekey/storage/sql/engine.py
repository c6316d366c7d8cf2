"""Engines for SQLite (embedded default) and PostgreSQL; the dialect differences live here.

SQLite: WAL journal, foreign keys on, a busy timeout, and every transaction opened with
``BEGIN IMMEDIATE`` so that there is exactly one writer at a time across threads and processes
(readers in WAL never block). pysqlite's own implicit transaction handling is switched off so
that SQLAlchemy's ``begin`` is the only place a transaction starts (the recipe from the SQLAlchemy
SQLite dialect documentation).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

BUSY_TIMEOUT_MS = 30_000
_LOG_LOCK_KEY = 0x6361_7265  # "care": PostgreSQL advisory lock serializing access-log appends


def private_sqlite_files(url: str) -> None:
    """The database file is created mode 0600 (and an existing one, its WAL and SHM tightened to 0600): SQLite
    creates the -wal and -shm files with the permissions of the database file (os_unix.c, findCreateFileMode)."""
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if f.exists() and f.stat().st_mode & 0o077 and f.stat().st_uid == os.getuid():
            os.chmod(f, 0o600)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        private_sqlite_files(url)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}",
                           "synchronous=NORMAL"):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True)
    raise ValueError(f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:/// or postgresql+psycopg://")


def lock_log(conn: Connection) -> None:
    """Serialize access-log appends so that ``seq`` stays contiguous (SQLite already has one writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOG_LOCK_KEY})
