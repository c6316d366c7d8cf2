"""The single composition root: builds concrete adapters from Settings and wires the services.

Nothing imports interfaces; interfaces import this module. No engine is created at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carekey.audit.sth import LogSigner
from carekey.config import Settings
from carekey.crypto.blind import BlindIndexer
from carekey.crypto.envelope import PersonCrypto
from carekey.crypto.keys import ProgramKeys, create_key_file, ensure_biometric_secret, rotate_biometric
from carekey.errors import Conflict
from carekey.services.biometrics import BiometricMatcher
from carekey.services.container import Services, build_services
from carekey.services.deps import Deps
from carekey.storage.database import Database
from carekey.storage.heads import HeadsFile
from carekey.storage.keystore import FileSecretStore


@dataclass
class App:
    settings: Settings
    database: Database
    services: Services

    def close(self) -> None:
        self.database.dispose()


def initialize(settings: Settings, if_missing: bool = False) -> bool:
    """Create the data folder, the key file (0600) and the key store, and migrate the database.
    Returns False when already initialized (allowed only with ``if_missing``)."""
    key_file = settings.resolved_key_file()
    existed = key_file.exists()
    if existed and not if_missing:
        raise Conflict(f"{key_file} exists: this data folder is already initialized")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not existed:
        create_key_file(key_file)
    FileSecretStore(settings.resolved_key_store())
    log_signer(settings.resolved_log_key_file())
    db = Database(settings.resolved_database_url())
    try:
        db.migrate()
        heads = HeadsFile(settings.resolved_heads_file())
        if not heads.exists():
            with db.uow() as uow:
                if uow.tree_heads.latest() is None:  # a database with heads needs `carekey log adopt-heads`
                    heads.create()
    finally:
        db.dispose()
    return not existed


def log_signer(path: Path) -> LogSigner:
    """Load the log's signing key, creating it (mode 0600) when missing: data folders initialized before the
    transparency log had signed heads get their key on first start."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        LogSigner.generate().save(path)
    return LogSigner.load(path)


def default_matcher(settings: Settings, keys: ProgramKeys) -> BiometricMatcher:
    """Fingerprint and iris engines behind the program's template protection (current key version)."""
    from carekey.biometrics.protection.matcher import ProtectedMatcher  # heavy (numba, OpenCV): load lazily

    assert keys.biometric_secret is not None
    return ProtectedMatcher(keys.biometric_secret, keys.biometric_version, settings.fingerprint_min_nfiq2)


def build(settings: Settings, matcher: BiometricMatcher | None = None, migrate: bool = True) -> App:
    """Open an initialized data folder: load keys (adding the biometric secret to a key file that predates
    it), open (and migrate) the database, wire services with ``matcher`` or the protected default."""
    keys = ensure_biometric_secret(settings.resolved_key_file())
    store = FileSecretStore(settings.resolved_key_store())
    db = Database(settings.resolved_database_url())
    if migrate:
        db.migrate()
    deps = Deps(uow=db.uow, crypto=PersonCrypto(keys, store), index=BlindIndexer(keys.index_key), settings=settings,
                signer=log_signer(settings.resolved_log_key_file()), biometric_key_version=keys.biometric_version,
                heads=HeadsFile(settings.resolved_heads_file()))
    return App(settings, db, build_services(deps, matcher or default_matcher(settings, keys)))


def rotate_biometric_key(settings: Settings) -> int:
    """Replace the program's biometric secret by a fresh one under the next key version; returns it.

    From then on captures enroll under the new version; templates of the old version are no longer
    searched (a leaked gallery is useless without the old secret, which is not kept), are deleted when
    the person re-enrolls, and by ``RetentionService``. Restart running servers to pick the new key up.
    """
    return rotate_biometric(settings.resolved_key_file()).biometric_version
