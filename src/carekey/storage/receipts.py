"""The matcher's ledger of spent log receipts: a SQLite file in the matcher's own folder (0600).

Each (log entry, step) is spent once (``consume``: a primary key, so two threads or a restart cannot spend it
twice). Rows are kept: each holds the entry promise the registry's log key signed, so the matcher can hand them to
an auditor (``carekey matcher receipts > promises.jsonl``; ``carekey log verify --promises promises.jsonl``
then convicts a registry that dropped or rewrote an entry it used to run a search).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path


class ReceiptLedger:
    def __init__(self, path: Path | str) -> None:
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS spent (entry_key TEXT NOT NULL, step TEXT NOT NULL, "
                "spent_ms INTEGER NOT NULL, promise TEXT NOT NULL, PRIMARY KEY (entry_key, step))"
            )

    def consume(self, entry_key: str, step: str, now_ms: int, promise: dict[str, object]) -> bool:
        """Record the receipt as spent for ``step``; False when it already was."""
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT INTO spent (entry_key, step, spent_ms, promise) VALUES (?, ?, ?, ?)",
                    (entry_key, step, now_ms, json.dumps(promise, sort_keys=True)),
                )
            except sqlite3.IntegrityError:
                return False
            return True

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM spent").fetchone()[0])

    def promises(self) -> Iterator[str]:
        """One JSON promise per spent entry (the format ``carekey log verify --promises`` reads)."""
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT promise FROM spent ORDER BY promise").fetchall()
        for (text,) in rows:
            yield text

    def close(self) -> None:
        with self._lock:
            self._conn.close()
