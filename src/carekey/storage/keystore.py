"""The key store: per-person shred secrets in a small SQLite file beside the key file (mode 0600).

It is deliberately NOT the application database (see ``carekey.crypto``): destroying a secret here
makes every copy of that person's wrapped data key useless. ``secure_delete`` overwrites deleted
content in the file, and the rollback journal (not WAL) leaves no old copy behind after commit.
Written by hand on the stdlib ``sqlite3`` because it is a 3-method table, not a data model.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from carekey.crypto.keys import KEY_BYTES


class FileSecretStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS secrets (key_ref TEXT PRIMARY KEY, secret BLOB NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=30)
        db.execute("PRAGMA secure_delete=ON")
        db.execute("PRAGMA journal_mode=DELETE")
        return db

    def create(self, key_ref: str) -> bytes:
        secret = secrets.token_bytes(KEY_BYTES)
        with self._lock, closing(self._connect()) as db, db:
            db.execute("INSERT INTO secrets (key_ref, secret) VALUES (?, ?)", (key_ref, secret))
        return secret

    def get(self, key_ref: str) -> bytes | None:
        with self._lock, closing(self._connect()) as db, db:
            row = db.execute("SELECT secret FROM secrets WHERE key_ref = ?", (key_ref,)).fetchone()
        return bytes(row[0]) if row else None

    def destroy(self, key_ref: str) -> None:
        with self._lock, closing(self._connect()) as db, db:
            db.execute("DELETE FROM secrets WHERE key_ref = ?", (key_ref,))

    def count(self) -> int:
        with self._lock, closing(self._connect()) as db, db:
            return int(db.execute("SELECT count(*) FROM secrets").fetchone()[0])
