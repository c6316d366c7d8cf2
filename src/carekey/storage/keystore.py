"""The key store: per-person shred secrets in a small SQLite file beside the key file (mode 0600).

It is deliberately NOT the application database (see ``carekey.crypto``): destroying a secret here
makes every copy of that person's wrapped data key useless. ``secure_delete`` overwrites deleted
content in the file, and the rollback journal (not WAL) leaves no old copy behind after commit.
Written by hand on the stdlib ``sqlite3`` because it is a 3-method table, not a data model.

The store has an identity: a random ``store_id`` written when it is created. Its key-check value (a hash of
the id, ``check_value``) is kept in the application database (``carekey.storage.keychecks``), so a key store that
is missing, emptied, truncated, corrupt or replaced by another one is refused at start instead of making every
record silently "not found". Disk-full and I/O errors surface as ``StorageUnavailable`` (HTTP 503).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from carekey.crypto.keys import KEY_BYTES
from carekey.errors import KeyCheckFailed, StorageUnavailable

_UNAVAILABLE = {5, 6, 8, 10, 13, 14, 15}  # SQLite BUSY LOCKED READONLY IOERR FULL CANTOPEN PROTOCOL


class FileSecretStore:
    def __init__(self, path: Path, create: bool = True) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._readers = threading.local()  # one read connection per thread (see ``_reader``)
        if not path.exists():
            if not create:
                raise KeyCheckFailed(f"the key store {path} is missing", file=str(path))
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            with self._guard(), closing(self._connect()) as db, db:
                if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    raise sqlite3.DatabaseError("quick_check failed")
                db.execute("CREATE TABLE IF NOT EXISTS secrets (key_ref TEXT PRIMARY KEY, secret BLOB NOT NULL)")
                db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
                db.execute(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES ('store_id', ?)", (secrets.token_bytes(KEY_BYTES),)
                )
                self._store_id = bytes(db.execute("SELECT value FROM meta WHERE name = 'store_id'").fetchone()[0])
        except KeyCheckFailed:
            raise
        except sqlite3.DatabaseError as exc:
            raise KeyCheckFailed(
                f"the key store {path} is unreadable or corrupt ({exc}); restore it from the "
                "backup taken with the database",
                file=str(path),
            ) from None

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _UNAVAILABLE:
                raise StorageUnavailable(
                    f"the key store cannot be written right now ({exc}); nothing was saved, please retry"
                ) from exc
            raise
        except OSError as exc:
            raise StorageUnavailable(f"the key store cannot be written right now ({exc.strerror})") from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=30)
        db.execute("PRAGMA secure_delete=ON")
        db.execute("PRAGMA journal_mode=DELETE")
        return db

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection, opened once: opening the file costs ~0.3 ms, a third of a logged
        request's crypto (bench/results/load_profile.md). Safe for crypto-shredding: every read starts a new read
        transaction, which sees the last committed ``destroy`` of any connection or process (the rollback journal
        checks the file's change counter), and no read transaction is left open. Reopened when the file at
        ``path`` is another file (a restore replaced it); writes keep their own short-lived connection."""
        here = os.stat(self._path)
        cached = getattr(self._readers, "db", None)
        if cached is not None and self._readers.inode == (here.st_dev, here.st_ino):
            return cached
        if cached is not None:
            cached.close()
        self._readers.db, self._readers.inode = self._connect(), (here.st_dev, here.st_ino)
        return self._readers.db

    def check_value(self) -> str:
        """The key-check value of this store (a hash of its random identity; reveals no secret)."""
        return hashlib.sha256(b"carekey-keystore-kcv-v1\x00" + self._store_id).hexdigest()

    def create(self, key_ref: str) -> bytes:
        secret = secrets.token_bytes(KEY_BYTES)
        with self._guard(), self._lock, closing(self._connect()) as db, db:
            db.execute("INSERT INTO secrets (key_ref, secret) VALUES (?, ?)", (key_ref, secret))
        return secret

    def get(self, key_ref: str) -> bytes | None:
        with self._guard():
            rows = self._reader().execute("SELECT secret FROM secrets WHERE key_ref = ?", (key_ref,)).fetchall()
        return bytes(rows[0][0]) if rows else None  # fetchall: the statement is done, no read lock stays held

    def destroy(self, key_ref: str) -> None:
        with self._guard(), self._lock, closing(self._connect()) as db, db:
            db.execute("DELETE FROM secrets WHERE key_ref = ?", (key_ref,))

    def count(self) -> int:
        with self._guard(), self._lock, closing(self._connect()) as db, db:
            return int(db.execute("SELECT count(*) FROM secrets").fetchone()[0])

    def has_all(self, key_refs: list[str]) -> list[str]:
        """The key references of ``key_refs`` that this store does not hold."""
        with self._guard(), self._lock, closing(self._connect()) as db, db:
            return [
                r for r in key_refs if db.execute("SELECT 1 FROM secrets WHERE key_ref = ?", (r,)).fetchone() is None
            ]
