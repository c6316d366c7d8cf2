"""Backup, verification and restore of a data folder: the database and the three key files, sealed together.

A database without its key files is unreadable forever (the KEK and blind-index key in ``carekey.keys``, each
person's shred secret in ``carekey.keystore``, the log's signing key in ``carekey.log.key``), and key files
without their database are useless, so one backup holds all four, sealed with a passphrase
(``carekey.crypto.sealed``: scrypt + AES-256-GCM).

Consistency with a running server: the database is copied first, as one snapshot (SQLite's online backup API
in a single step, under a read transaction; ``pg_dump``, which reads one MVCC snapshot, for PostgreSQL), then the
key store (same API), then the key files. In that order a person enrolled meanwhile has a shred secret in the
key store that the database copy does not need, and a person erased meanwhile is erased in the backup too (their
secret is gone). Inside the sealed file: a gzip'd tar of ``manifest.json`` (format, time, versions, SHA-256 of
each file) and the files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from carekey import __version__
from carekey.audit.sth import LogSigner
from carekey.config import Settings
from carekey.crypto.keys import load_key_file
from carekey.crypto.sealed import KdfParams, check_passphrase, read_header, seal, unseal
from carekey.errors import Conflict, IntegrityError, InvalidInput
from carekey.storage.database import Database

FORMAT = 1
DB_SQLITE, DB_PG = "carekey.db", "carekey.pgdump"
KEYS, KEYSTORE, LOG_KEY = "carekey.keys", "carekey.keystore", "carekey.log.key"
HEADS = "carekey.heads"  # the signed tree heads kept outside the database (copied first: the database has them all)


def _private_file(path: Path) -> int:
    """A new file only its owner can read (0600), never an existing one."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def _sqlite_copy(src: Path, dst: Path) -> None:
    """SQLite online backup API, all pages in one step (one consistent snapshot, even while the server writes)."""
    if not src.exists():
        raise InvalidInput(f"{src} does not exist: is this an initialized data folder?")
    os.close(_private_file(dst))
    with closing(sqlite3.connect(f"file:{src}?mode=ro", uri=True)) as source, closing(sqlite3.connect(dst)) as copy:
        source.backup(copy)


def _pg_env_and_url(url: str) -> tuple[dict[str, str], str]:
    """libpq URL (no driver suffix) without the password, which goes in PGPASSWORD instead of argv."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return env, plain.render_as_string(hide_password=False)


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    tool = shutil.which(args[0])
    if tool is None:
        raise InvalidInput(f"{args[0]} is not installed (apt-get install postgresql-client): needed to {what}")
    done = subprocess.run([tool, *args[1:]], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise IntegrityError(f"{args[0]} failed to {what}: {done.stderr.strip()[-500:]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        db.dispose()


#: The backup's ``manifest.json`` (format, created_at, carekey_version, database, schema_revision, and ``files``:
#: name -> {sha256, bytes}), as written by ``snapshot`` and read back with ``json.loads``.
Manifest = dict[str, Any]


def snapshot(settings: Settings, folder: Path) -> Manifest:
    """Copy the database, then the key store, then the key files into ``folder``; returns the manifest."""
    url = settings.resolved_database_url()
    kind = make_url(url).get_backend_name()
    heads = settings.resolved_heads_file()
    if heads.exists():
        fd = _private_file(folder / HEADS)
        with os.fdopen(fd, "wb") as out:
            out.write(heads.read_bytes())
    if kind == "sqlite":
        database = DB_SQLITE
        _sqlite_copy(Path(str(make_url(url).database)), folder / DB_SQLITE)
    elif kind == "postgresql":
        database = DB_PG
        env, libpq = _pg_env_and_url(url)
        _run(
            ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={folder / DB_PG}", libpq],
            env,
            "dump the database",
        )
        os.chmod(folder / DB_PG, 0o600)
    else:
        raise InvalidInput(f"cannot back up a {kind} database")
    _sqlite_copy(settings.resolved_key_store(), folder / KEYSTORE)
    for name, src in ((KEYS, settings.resolved_key_file()), (LOG_KEY, settings.resolved_log_key_file())):
        if not src.exists():
            raise InvalidInput(f"{src} does not exist: is this an initialized data folder?")
        fd = _private_file(folder / name)
        with os.fdopen(fd, "wb") as out:
            out.write(src.read_bytes())
    files = (database, KEYSTORE, KEYS, LOG_KEY) + ((HEADS,) if heads.exists() else ())
    return {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "carekey_version": __version__,
        "database": kind,
        "schema_revision": _revision(url),
        "files": {n: {"sha256": _sha256(folder / n), "bytes": (folder / n).stat().st_size} for n in files},
    }


def create(settings: Settings, out: Path, passphrase: str, params: KdfParams = KdfParams()) -> dict[str, object]:
    """Write a sealed backup of the data folder to ``out`` (mode 0600; refused if it exists)."""
    check_passphrase(passphrase)
    if out.exists():
        raise Conflict(f"{out} exists; choose a new file name")
    with tempfile.TemporaryDirectory(prefix="carekey-backup-") as tmp:
        work = Path(tmp)
        manifest = snapshot(settings, work)
        archive = work / "archive.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mode = len(body), 0o600
            tar.addfile(info, io.BytesIO(body))
            for name in manifest["files"]:
                tar.add(work / name, arcname=name)
        partial = out.with_name(out.name + ".partial")
        partial.unlink(missing_ok=True)
        with archive.open("rb") as src, os.fdopen(_private_file(partial), "wb") as dst:
            seal(
                passphrase,
                src,
                dst,
                {
                    "kind": "carekey backup",
                    "format": FORMAT,
                    "created_at": manifest["created_at"],
                    "database": manifest["database"],
                },
                params,
            )
        os.replace(partial, out)
    return manifest


@contextmanager
def opened(path: Path, passphrase: str) -> Iterator[tuple[Manifest, Path]]:
    """Decrypt and unpack a backup into a private temporary folder, checking every file against the manifest;
    yields (manifest, folder). Raises InvalidInput (passphrase, damage) or IntegrityError (a file differs)."""
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file")
    with tempfile.TemporaryDirectory(prefix="carekey-restore-") as tmp:
        work = Path(tmp)
        archive = work / "archive.tar.gz"
        with path.open("rb") as src, os.fdopen(_private_file(archive), "wb") as dst:
            unseal(passphrase, src, dst)
        with tarfile.open(archive, "r:gz") as tar:
            names = tar.getnames()
            allowed = {"manifest.json", DB_SQLITE, DB_PG, KEYSTORE, KEYS, LOG_KEY, HEADS}
            if not set(names) <= allowed:
                raise IntegrityError(f"unexpected files in the backup: {sorted(set(names) - allowed)}")
            tar.extractall(work / "files", filter="data")
        files = work / "files"
        manifest = json.loads((files / "manifest.json").read_text())
        if manifest.get("format") != FORMAT:
            raise InvalidInput(f"backup format {manifest.get('format')} is not supported (this carekey reads {FORMAT})")
        for name, expected in manifest["files"].items():
            if not (files / name).is_file() or _sha256(files / name) != expected["sha256"]:
                raise IntegrityError(f"{name} in the backup does not match its manifest checksum")
        for name in manifest["files"]:
            os.chmod(files / name, 0o600)
        yield manifest, files


def _check_files(manifest: Manifest, files: Path) -> dict[str, object]:
    """Open what can be opened without a server: key files, the key store, the SQLite database."""
    keys = load_key_file(files / KEYS)
    LogSigner.load(files / LOG_KEY)
    report: dict[str, object] = {"key_file": "ok", "biometric_key_version": keys.biometric_version, "log_key": "ok"}
    with closing(sqlite3.connect(f"file:{files / KEYSTORE}?mode=ro", uri=True)) as ks:
        report["shred_secrets"] = ks.execute("SELECT count(*) FROM secrets").fetchone()[0]
    if manifest["database"] == "sqlite":
        with closing(sqlite3.connect(f"file:{files / DB_SQLITE}?mode=ro", uri=True)) as db:
            check = db.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise IntegrityError(f"the database in the backup fails SQLite's integrity check: {check}")
            report["people"] = db.execute("SELECT count(*) FROM people").fetchone()[0]
            report["log_entries"] = db.execute("SELECT count(*) FROM access_log").fetchone()[0]
    return report


def verify(path: Path, passphrase: str) -> dict[str, object]:
    """Check a backup without restoring it: passphrase, every chunk's tag, checksums, key files, database."""
    with opened(path, passphrase) as (manifest, files):
        report = _check_files(manifest, files)
    return {
        "ok": True,
        "created_at": manifest["created_at"],
        "carekey_version": manifest["carekey_version"],
        "database": manifest["database"],
        "schema_revision": manifest["schema_revision"],
    } | report


def describe(path: Path) -> dict[str, object]:
    """What the header says (readable without the passphrase)."""
    with path.open("rb") as f:
        header, _ = read_header(f)
    meta = header.get("meta", {})
    return dict(meta) if isinstance(meta, dict) else {}


def restore(path: Path, passphrase: str, settings: Settings) -> dict[str, object]:
    """Bring a backup back into the data folder of ``settings`` (which must hold no key file or database yet),
    files mode 0600; a PostgreSQL dump goes into ``settings.database_url`` (an empty database); then migrate."""
    targets = {
        KEYS: settings.resolved_key_file(),
        KEYSTORE: settings.resolved_key_store(),
        LOG_KEY: settings.resolved_log_key_file(),
    }
    url = settings.resolved_database_url()
    kind = make_url(url).get_backend_name()
    if kind == "sqlite":
        targets[DB_SQLITE] = Path(str(make_url(url).database))
    present = [str(p) for p in targets.values() if p.exists()]
    if present:
        raise Conflict(f"restore needs an empty data folder; these exist: {', '.join(present)}")
    with opened(path, passphrase) as (manifest, files):
        if manifest["database"] != kind:
            raise InvalidInput(
                f"this backup holds a {manifest['database']} database; the target is {kind} (set CAREKEY_DATABASE_URL)"
            )
        report = _check_files(manifest, files)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(settings.data_dir, 0o700)
        if kind == "postgresql":
            env, libpq = _pg_env_and_url(url)
            _run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    f"--dbname={libpq}",
                    str(files / DB_PG),
                ],
                env,
                "restore the database",
            )
        if HEADS in manifest["files"]:
            targets[HEADS] = settings.resolved_heads_file()
        for name, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            with (files / name).open("rb") as src, os.fdopen(_private_file(target), "wb") as dst:
                shutil.copyfileobj(src, dst)
    db = Database(url)
    try:
        db.migrate()  # a backup from an older carekey is upgraded like any data folder
    finally:
        db.dispose()
    return {"restored": str(settings.data_dir), "created_at": manifest["created_at"], "database": kind} | report
