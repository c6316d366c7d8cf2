"""The single composition root: builds concrete adapters from Settings and wires the services.

Nothing imports interfaces; interfaces import this module. No engine is created at import time.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from carekey.audit.promise import PromiseSigner
from carekey.audit.sth import KeyRotation, LogSigner
from carekey.config import Settings
from carekey.crypto.blind import BlindIndexer
from carekey.crypto.channel import load_credential
from carekey.crypto.envelope import PersonCrypto
from carekey.crypto.keys import (
    ProgramKeys,
    adopt_remote_biometric_version,
    create_key_file,
    ensure_biometric_secret,
    load_key_file,
    rotate_biometric,
)
from carekey.errors import Conflict, IntegrityError, KeyCheckFailed, MatcherUnavailable
from carekey.services.biometrics import BiometricMatcher
from carekey.services.container import Services, build_services
from carekey.services.deps import Actor, Deps
from carekey.services.hashing import HashGate
from carekey.services.matcher_remote import RemoteMatcher
from carekey.storage import keychecks
from carekey.storage.database import Database
from carekey.storage.heads import HeadsFile
from carekey.storage.keystore import FileSecretStore


@dataclass
class App:
    settings: Settings
    database: Database
    services: Services

    def close(self) -> None:
        matcher = self.services.biometrics.matcher if self.services.biometrics is not None else None
        if isinstance(matcher, RemoteMatcher):
            matcher.close()
        self.database.dispose()


#: data files (database, -wal, -shm, key files, key store, journals) are created readable by the owner only
UMASK = 0o077
CAPTURE_KEY = "capture.key"  # central: the HPKE key offline captures are sealed to (0600; nodes get its public part)


def restrict_new_files() -> None:
    """Set the process umask so that every file carekey (and SQLite under it) creates is 0600 from creation."""
    os.umask(UMASK)


def _files(settings: Settings) -> keychecks.KeyFiles:
    return keychecks.KeyFiles(
        settings.resolved_key_file(), settings.resolved_key_store(), settings.resolved_log_key_file()
    )


def _sqlite_path(settings: Settings) -> Path | None:
    url = settings.resolved_database_url()
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _tighten(settings: Settings) -> None:
    """Data files created by an older carekey (0644) become owner-only too."""
    base = _sqlite_path(settings)
    paths = [settings.resolved_key_store()] + ([base, Path(f"{base}-wal"), Path(f"{base}-shm")] if base else [])
    for path in paths:
        if path.exists() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def _database_exists(settings: Settings, db: Database) -> bool:
    """True when the database holds carekey's schema (checked without creating an SQLite file)."""
    path = _sqlite_path(settings)
    if path is not None and (not path.exists() or path.stat().st_size == 0):
        return False
    return db.has_schema()


def _missing_database(settings: Settings) -> KeyCheckFailed:
    where = _sqlite_path(settings) or "the configured PostgreSQL database"
    return KeyCheckFailed(
        f"the database ({where}) is missing or empty while the key file "
        f"{settings.resolved_key_file()} exists. Restore the database from the backup made with these keys; "
        "for a new, empty registry move the key files away first, then run `carekey init`.",
        key="database",
    )


def _missing_keys(settings: Settings) -> KeyCheckFailed:
    return KeyCheckFailed(
        f"the key file {settings.resolved_key_file()} is missing while the database holds "
        "data; restore it from the backup made with this database. `carekey init` never creates keys next to "
        "an existing database (their records could never be read again).",
        key=keychecks.PROGRAM_KEYS,
    )


def initialize(settings: Settings, if_missing: bool = False) -> bool:
    """Create the data folder, the key file, the key store and the log key (0600), migrate the database and
    record the key-check values. Returns False when already initialized (allowed only with ``if_missing``;
    then only migrates). Never creates keys next to an existing database, nor a database next to existing keys."""
    restrict_new_files()
    key_file = settings.resolved_key_file()
    existed = key_file.exists()
    if existed and not if_missing:
        raise Conflict(f"{key_file} exists: this data folder is already initialized")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url())
    try:
        has_db = _database_exists(settings, db)
        if existed and not has_db:
            raise _missing_database(settings)
        if not existed and has_db:
            raise _missing_keys(settings)
        if existed:
            db.migrate()
            return False
        keys = create_key_file(key_file)
        store = FileSecretStore(settings.resolved_key_store())
        signer = log_signer(settings.resolved_log_key_file())
        db.migrate()
        keychecks.record(db, keychecks.check_values(keys, store, signer))
        heads = HeadsFile(settings.resolved_heads_file())
        if not heads.exists():
            with db.uow() as uow:
                if uow.tree_heads.latest() is None:  # a database with heads needs `carekey log adopt-heads`
                    heads.create()
    finally:
        db.dispose()
    return True


def log_signer(path: Path, create: bool = True) -> LogSigner:
    """Load the log's signing key, creating it (mode 0600) when missing and ``create``: data folders initialized
    before the transparency log had signed heads get their key on first start."""
    if not path.exists():
        if not create:
            raise KeyCheckFailed(f"the log key {path} is missing", file=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        LogSigner.generate().save(path)
    try:
        return LogSigner.load(path)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise KeyCheckFailed(
            f"the log key {path} is unreadable or corrupt ({exc}); restore it from your backup",
            file=str(path),
            key=keychecks.LOG_KEY,
        ) from None


def open_checked(settings: Settings, migrate: bool = True) -> tuple[ProgramKeys, FileSecretStore, Database, LogSigner]:
    """Open the key files and the database, refusing (``KeyCheckFailed``) when they do not belong together, and
    finish any deletion a crash left half-done (two-phase erasure, phase 2)."""
    restrict_new_files()
    files = _files(settings)
    db = Database(settings.resolved_database_url())
    try:
        has_db = _database_exists(settings, db)
        if not files.keys.exists():
            if has_db:
                raise _missing_keys(settings)
            raise KeyCheckFailed(
                f"{settings.data_dir} is not initialized (no key file {files.keys}); run `carekey init`",
                key="not-initialized",
            )
        if not has_db:
            raise _missing_database(settings)
        _tighten(settings)
        if migrate:
            db.migrate()
        values, people_count, heads = keychecks.stored(db)
        try:
            keys = ensure_biometric_secret(files.keys)
        except IntegrityError as exc:
            raise keychecks.refuse(
                files, keychecks.PROGRAM_KEYS, f"is unreadable ({exc.message})", people_count
            ) from None
        guarded = keychecks.KEY_STORE in values or people_count > 0
        if guarded and not files.store.exists():
            raise keychecks.refuse(files, keychecks.KEY_STORE, "is missing", people_count)
        try:
            store = FileSecretStore(files.store)
        except KeyCheckFailed as exc:
            raise keychecks.refuse(files, keychecks.KEY_STORE, f"is unreadable ({exc.message})", people_count) from None
        if (keychecks.LOG_KEY in values or heads) and not files.log_key.exists():
            raise keychecks.refuse(files, keychecks.LOG_KEY, "is missing", people_count)
        signer = log_signer(files.log_key)
        keychecks.verify(db, files, keys, store, signer)
        db.store = store
        db.recover()
    except BaseException:
        db.dispose()
        raise
    return keys, store, db, signer


def default_matcher(settings: Settings, keys: ProgramKeys) -> BiometricMatcher:
    """Fingerprint and iris engines behind the program's template protection (current key version)."""
    from carekey.biometrics.protection.matcher import ProtectedMatcher  # heavy (numba, OpenCV): load lazily

    assert keys.biometric_secret is not None
    return ProtectedMatcher(keys.biometric_secret, keys.biometric_version, settings.fingerprint_min_nfiq2)


def remote_matcher(settings: Settings, keys: ProgramKeys) -> RemoteMatcher | None:
    """The matcher service this registry is configured to call (``Settings.matcher_url``), or None (embedded)."""
    url = settings.resolved_matcher_url()
    if url is None:
        if keys.biometric_remote:
            raise KeyCheckFailed(
                f"the biometric secret of {settings.resolved_key_file()} was moved to a matcher service "
                "(carekey matcher init), but no matcher URL is configured: set CAREKEY_MATCHER_URL",
                key="matcher",
            )
        return None
    credential = load_credential(settings.resolved_matcher_credential_file())
    return RemoteMatcher(url, credential, keys.biometric_version, settings.matcher_timeout_seconds)


def build(settings: Settings, matcher: BiometricMatcher | None = None, migrate: bool = True) -> App:
    """Open an initialized data folder: load keys (adding the biometric secret to a key file that predates
    it), open (and migrate) the database, check that keys and database belong together (refusing to start
    otherwise, ``carekey.storage.keychecks``), finish interrupted deletions, and wire services with ``matcher``,
    else the configured matcher service (``remote_matcher``), else the protected default in this process."""
    keys, store, db, signer = open_checked(settings, migrate)
    if matcher is None:
        try:
            matcher = remote_matcher(settings, keys)
        except BaseException:
            db.dispose()
            raise
    db.promises = PromiseSigner(signer, settings.log_merge_delay_seconds * 1000)
    deps = Deps(
        uow=db.uow,
        crypto=PersonCrypto(keys, store),
        index=BlindIndexer(keys.index_key),
        settings=settings,
        signer=signer,
        biometric_key_version=keys.biometric_version,
        heads=HeadsFile(settings.resolved_heads_file()),
        template_feed=db.template_feed(),
        hashing=HashGate.sharing_cpus(settings.serve_workers),
    )
    services = build_services(deps, matcher or default_matcher(settings, keys))
    services.sync.capture_key_file = settings.data_dir / CAPTURE_KEY  # created when a node first pulls
    return App(settings, db, services)


def rotate_log_key(settings: Settings, old_key: Path | None = None) -> dict[str, str]:
    """Replace the log's signing key, explicitly and on the record. The old key (the one this database's key
    check names: the configured file, or ``old_key`` when the configured file already holds the replacement)
    and the new key sign each other (``carekey.audit.sth.rotation_bytes``); the rotation is stored, appended
    to the access log (action ``log_key_rotate``) and the key check updated in one transaction; then the new
    key file takes the configured path (0600). Heads signed before stay verifiable through the rotation."""
    from carekey.services.access import log_access
    from carekey.services.admin import LOCAL_OPERATOR

    restrict_new_files()
    path = settings.resolved_log_key_file()
    db = Database(settings.resolved_database_url())
    try:
        if not _database_exists(settings, db):
            raise _missing_database(settings)
        db.migrate()
        expected = keychecks.stored(db)[0].get(keychecks.LOG_KEY)
        current = log_signer(path, create=False) if path.exists() else None
        if expected is None:
            raise KeyCheckFailed("this database has no log key check yet: start carekey once before rotating")
        if current is not None and current.key_id.hex() == expected:
            old, new, write = current, LogSigner.generate(), True
        elif old_key is not None and log_signer(old_key, create=False).key_id.hex() == expected:
            if current is None:
                raise KeyCheckFailed(
                    f"no new log key at {path}: put the replacement there, or omit --old-key to generate one"
                )
            old, new, write = log_signer(old_key, create=False), current, False
        else:
            raise KeyCheckFailed(
                f"rotate-key needs the old log key (key id {expected[:16]}...) to sign the new one: "
                f"it is neither at {path} nor given with --old-key"
            )
        at = datetime.now(UTC)
        ms = int(at.timestamp() * 1000)
        rotation = KeyRotation(
            ms,
            old.public_key,
            new.public_key,
            old.sign_rotation(old.public_key, new.public_key, ms),
            new.sign_rotation(old.public_key, new.public_key, ms),
        )
        staged = path.with_name(path.name + ".new")
        if write:
            staged.unlink(missing_ok=True)
            new.save(staged)
        db.promises = PromiseSigner(new, settings.log_merge_delay_seconds * 1000)  # this entry's promise
        with db.uow() as uow:
            uow.log_keys.add(rotation)
            uow.key_checks.put(keychecks.LOG_KEY, new.key_id.hex())
            log_access(
                uow,
                at,
                LOCAL_OPERATOR,
                "log_key_rotate",
                "administration",
                "granted",
                f"log key {old.key_id.hex()[:16]} replaced by {new.key_id.hex()[:16]}, signed by both",
            )
            uow.commit()
        if write:
            os.replace(staged, path)
    finally:
        db.dispose()
    return {"old_key_id": old.key_id.hex(), "new_key_id": new.key_id.hex(), "public_key": new.public_key.hex()}


_ROTATING = threading.Lock()


def rotate_log_key_live(settings: Settings, services: Services, actor: Actor) -> dict[str, str]:
    """``carekey log rotate-key`` from the running server (the admin's keys screen): a new key is written next to
    the configured file (0600), the admin service decides, logs and stores the rotation signed by both keys and
    the new key check (``AdminService.rotate_log_key``), then the new file takes the configured path and this
    process signs with the new key at once (``LogSigner.adopt``). If the service refuses, nothing changed.
    Other worker processes keep signing with the old key (still trusted through the rotation) until restarted."""
    restrict_new_files()
    signer = services.deps.signer
    if signer is None:
        raise KeyCheckFailed("this carekey instance has no log signing key")
    path = settings.resolved_log_key_file()
    with _ROTATING:
        old_id = signer.key_id
        new = LogSigner.generate()
        staged = path.with_name(path.name + ".new")
        staged.unlink(missing_ok=True)
        new.save(staged)
        try:
            services.admin.rotate_log_key(actor, new)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        os.replace(staged, path)
        signer.adopt(new)
    return {"old_key_id": old_id.hex(), "new_key_id": new.key_id.hex(), "public_key": new.public_key.hex()}


def rotate_biometric_key(settings: Settings) -> int:
    """Replace the program's biometric secret by a fresh one under the next key version; returns it.

    From then on captures enroll under the new version; templates of the old version are no longer
    searched (a leaked gallery is useless without the old secret, which is not kept), are deleted when
    the person re-enrolls, and by ``RetentionService``. Restart running servers to pick the new key up.

    With the secret moved to a matcher service (``carekey matcher init``), the matcher rotates it
    (``carekey matcher rotate-key`` on its host, then a restart of the matcher); this then asks the matcher's
    ``/health`` for its key version and records it in this registry's key file, which still holds no secret.
    """
    path = settings.resolved_key_file()
    keys = load_key_file(path)
    if not keys.biometric_remote:
        return rotate_biometric(path).biometric_version
    matcher = remote_matcher(settings, keys)
    assert matcher is not None  # remote_matcher refuses a moved secret without a matcher URL
    try:
        found = matcher.health().get("key_version")
    finally:
        matcher.close()
    if not isinstance(found, int):
        raise MatcherUnavailable("the matcher's /health names no biometric key version")
    return adopt_remote_biometric_version(path, found).biometric_version
