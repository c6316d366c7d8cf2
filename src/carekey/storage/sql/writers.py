"""SQLite's one writer, handed over without sleeping: writers queue on a lock before ``BEGIN IMMEDIATE``.

SQLite lets one transaction write at a time. A connection that finds the write lock taken waits in SQLite's busy
handler, which *sleeps and retries* (1, 2, 5, 10 ... up to 100 ms between tries): under a steady stream of
logged writes from several threads and ``serve --workers`` processes, the lock is often free while every waiter
sleeps, and a request can lose its turn again and again (issue 21: record exam at 8 clients, p99 575 ms at
138 req/s, the server's CPU not used up). Here a writing transaction first takes

- a lock of its process (``threading.RLock``: the threads of one worker wait in the kernel and are woken at
  once, in turn), then
- an exclusive ``flock`` on a lock file beside the database (``<database>-writer``, empty): the worker processes
  of one data folder take turns; a waiter polls every 0.5-2 ms (``flock`` cannot time out by itself), so a hand
  over costs about a millisecond instead of up to 100.

It is a scheduling aid, not the guard of correctness: SQLite's own lock still serializes writers (and a writer
that does not go through this queue, e.g. the ``sqlite3`` shell, is still safe). The wait is bounded like SQLite's
busy timeout; past it the transaction goes on to ``BEGIN IMMEDIATE`` and SQLite decides (busy: a 503). The lock
is released when the transaction ends (commit or rollback, the pool's reset of a returned connection, or the
connection's close). A thread opening a second writing transaction inside its first takes the locks again
(re-entrant) and then waits for SQLite as before.

Written by hand: SQLAlchemy and the ``sqlite3`` module offer no fair or blocking writer hand-over.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Any


class WriterQueue:
    def __init__(self, database: Path | None, timeout_s: float) -> None:
        self._path = None if database is None else Path(f"{database}-writer")
        self._fd: int | None = None
        self._timeout = timeout_s
        self._turn = threading.Lock()  # held by the process's current writer (released by any thread)
        self._mutex = threading.Lock()  # guards the two fields below
        self._owner: int | None = None  # the thread holding the turn
        self._conns: set[int] = set()  # ids of the DBAPI connections that hold it (re-entrance)

    def acquire(self, dbapi_conn: Any) -> None:
        """Wait for this process's turn, then for the data folder's (at most the busy timeout)."""
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:  # a second writing transaction of the same thread
                self._conns.add(id(dbapi_conn))
                return
        deadline = time.monotonic() + self._timeout
        if not self._turn.acquire(timeout=self._timeout):
            return  # SQLite's busy timeout decides
        if self._path is not None:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            if not _flock(self._fd, deadline):
                self._turn.release()
                return
        with self._mutex:
            self._owner, self._conns = me, {id(dbapi_conn)}

    def release(self, dbapi_conn: Any) -> None:
        """End of a transaction of this connection (any thread; a no-op when it holds no turn)."""
        with self._mutex:
            if id(dbapi_conn) not in self._conns:
                return
            self._conns.discard(id(dbapi_conn))
            if self._conns:
                return
            self._owner = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._turn.release()


def _flock(fd: int, deadline: float) -> bool:
    pause = 0.0005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.002)
