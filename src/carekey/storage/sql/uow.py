"""The SQL unit of work: one connection, one transaction, every repository bound to it.

After a commit that scheduled key-store secrets for destruction (``shreds.schedule``: erasure, revocation of a
biometric consent) the unit of work destroys them and finalizes the queue (phase 2 of the two-phase erasure,
``carekey.storage.sql.shreds``); after a commit that deleted personal data it checkpoints the SQLite WAL
(``carekey.storage.sql.engine``). A failure of either after the commit is logged and left to recovery: the
deletion itself is committed, and the person is gone from every query.

A *read-only* unit of work (``SqlUnitOfWork(engine, read_only=True)``, ``Database.uow(read_only=True)``) is for
paths that write nothing (the bearer-token check, tree-head and log reads, static-ish pages): on SQLite it opens
``BEGIN DEFERRED`` (a WAL snapshot, no write lock: it neither waits for the one writer nor holds it up), on
PostgreSQL autocommit (no ``BEGIN``/``COMMIT`` round trips; the engine refuses a write statement in it). Writing
in it is a bug: ``commit()`` refuses. Reads of personal data are not
read-only: they append their access-log entry first.

Storage failures (full disk, I/O error, lost PostgreSQL connection, pool timeout) leave the unit of work as
``StorageUnavailable`` (HTTP 503): the transaction is rolled back, nothing of it was acknowledged.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc

from carekey.audit.promise import publish_committed
from carekey.crypto.keys import SecretStore
from carekey.errors import StorageUnavailable
from carekey.stats.published import ReleaseStore
from carekey.storage import protocols as P
from carekey.storage.sql.access_log import SqlAccessLogRepository
from carekey.storage.sql.biometrics import SqlBiometricRepository
from carekey.storage.sql.budget import SqlBudgetStore, SqlReleaseStore
from carekey.storage.sql.consents import SqlConsentRepository
from carekey.storage.sql.engine import READ_ONLY, checkpoint_after_delete
from carekey.storage.sql.exams import SqlExamRepository
from carekey.storage.sql.fhir_pushes import SqlFhirPushRepository
from carekey.storage.sql.images import SqlImageRepository
from carekey.storage.sql.log_tree import SqlTreeHeadRepository
from carekey.storage.sql.login_limits import SqlLoginLimitRepository
from carekey.storage.sql.people import SqlPersonRepository
from carekey.storage.sql.programs import SqlProgramRepository
from carekey.storage.sql.referrals import SqlReferralRepository
from carekey.storage.sql.shreds import SqlKeyChecks, SqlLogKeyRotations, SqlShredQueue, finish_shreds
from carekey.storage.sql.sync import SqlSyncRepository, clear_origin
from carekey.storage.sql.users import SqlUserRepository
from carekey.storage.sql.visits import SqlVisitRepository

log = logging.getLogger(__name__)

# SQLite primary result codes meaning "the storage, not the statement, failed" (sqlite.org/rescode.html)
_SQLITE_UNAVAILABLE = {5, 6, 8, 10, 13, 14, 15}  # BUSY LOCKED READONLY IOERR FULL CANTOPEN PROTOCOL


def storage_failure(exc: BaseException) -> bool:
    """True for errors of the storage itself (retry later), False for errors of the statement (a bug: 500)."""
    if isinstance(exc, sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if exc.orig is None:
            return False
        exc = exc.orig
    if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_UNAVAILABLE
    module = type(exc).__module__
    if module.startswith("psycopg"):  # psycopg.OperationalError (connection lost, admin shutdown) and friends
        import psycopg

        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError)


def unavailable(exc: BaseException) -> StorageUnavailable:
    return StorageUnavailable(
        "the database or key store cannot be written or reached right now (disk full, I/O "
        f"error or lost connection: {type(exc).__name__}); nothing of this request was "
        "saved, please retry"
    )


class SqlUnitOfWork:
    """``protocols.UnitOfWork`` on one SQLAlchemy connection; its repositories are typed as the protocols they
    implement (what the services may call), and are set on ``__enter__``."""

    programs: P.ProgramRepository
    users: P.UserRepository
    people: P.PersonRepository
    visits: P.VisitRepository
    exams: P.ExamRepository
    referrals: P.ReferralRepository
    consents: P.ConsentRepository
    access_log: P.AccessLogRepository
    biometrics: P.BiometricRepository
    images: P.BiometricImageRepository
    tree_heads: P.TreeHeadRepository
    budget: P.BudgetRepository
    fhir_pushes: P.FhirPushRepository
    releases: ReleaseStore
    shreds: P.ShredQueue
    key_checks: P.KeyCheckRepository
    log_keys: P.LogKeyRotationRepository
    login_limits: P.LoginLimitRepository
    sync: P.SyncRepository
    _access_log: SqlAccessLogRepository  # the same objects, typed as what they are (for the storage layer itself)
    _shreds: SqlShredQueue
    _people: SqlPersonRepository
    _visits: SqlVisitRepository

    def __init__(self, engine: Engine, store: SecretStore | None = None, read_only: bool = False) -> None:
        self._engine = engine
        self._store = store
        self._conn: Connection | None = None
        self.read_only = read_only

    def __enter__(self) -> SqlUnitOfWork:
        try:
            conn = self._engine.connect()
            try:
                if self.read_only and conn.dialect.name == "postgresql":
                    # autocommit: no BEGIN / COMMIT round trips (READ COMMITTED gives each statement its own
                    # snapshot inside a transaction too); a write is refused by the engine (engine.py)
                    conn = conn.execution_options(**{READ_ONLY: True}, isolation_level="AUTOCOMMIT")
                else:
                    if self.read_only:
                        conn = conn.execution_options(**{READ_ONLY: True})
                    conn.begin()
            except BaseException:
                conn.close()
                raise
        except Exception as exc:
            if storage_failure(exc):
                raise unavailable(exc) from exc
            raise
        self._conn = conn
        self.programs = SqlProgramRepository(conn)
        self.users = SqlUserRepository(conn)
        self.people = self._people = SqlPersonRepository(conn)
        self.visits = self._visits = SqlVisitRepository(conn)
        self.exams = SqlExamRepository(conn)
        self.referrals = SqlReferralRepository(conn)
        self.consents = SqlConsentRepository(conn)
        self.access_log = self._access_log = SqlAccessLogRepository(conn)
        self.biometrics = SqlBiometricRepository(conn)
        self.images = SqlImageRepository(conn)
        self.tree_heads = SqlTreeHeadRepository(conn)
        self.budget = SqlBudgetStore(conn)
        self.fhir_pushes = SqlFhirPushRepository(conn)
        self.releases = SqlReleaseStore(conn)
        self.shreds = self._shreds = SqlShredQueue(conn)
        self.key_checks = SqlKeyChecks(conn)
        self.log_keys = SqlLogKeyRotations(conn)
        self.login_limits = SqlLoginLimitRepository(conn)
        self.sync = SqlSyncRepository(conn)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                if self.read_only and exc is None and self._conn.dialect.name == "postgresql":
                    # autocommit: nothing to end (a no-op without a round trip); a ROLLBACK would make psycopg drop
                    # every prepared statement of the connection (DEALLOCATE ALL)
                    self._conn.commit()
                else:
                    self._conn.rollback()
        except Exception as failure:  # a dead connection cannot roll back: the server already did
            if exc is None and not storage_failure(failure):
                raise
            self._conn.invalidate()
        finally:
            # the pooled connection's info outlives this unit of work; an invalidated one (a lost PostgreSQL
            # connection) refuses even that look-up, and is discarded by the pool anyway
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                clear_origin(self._conn)
            self._conn.close()
            self._conn = None
        if (
            exc is not None
            and not isinstance(exc, StorageUnavailable)
            and isinstance(exc, Exception)
            and storage_failure(exc)
        ):
            raise unavailable(exc) from exc

    def commit(self) -> None:
        assert self._conn is not None, "commit outside the unit of work"
        if self.read_only:
            raise RuntimeError("commit in a read-only unit of work: open a writing one (Database.uow())")
        self._conn.commit()
        self._people.forget()
        self._visits.forget()
        committed, self._access_log.uncommitted = self._access_log.uncommitted, []
        publish_committed(committed)
        scheduled, self._shreds.scheduled = self._shreds.scheduled, []
        self._after_commit(bool(scheduled))
        # no new transaction here: the next statement opens one (SQLAlchemy's autobegin, through the same "begin"
        # hook). Beginning at once cost every writing request a second, empty BEGIN IMMEDIATE on SQLite: one more
        # wait for the write lock after its work was done.

    def _after_commit(self, shred: bool) -> None:
        """Phase 2 of a committed deletion and the WAL checkpoint; failures are left to recovery."""
        assert self._conn is not None
        try:
            if shred and self._store is not None:
                finish_shreds(self._conn, self._store)
            if not checkpoint_after_delete(self._conn):
                log.warning("WAL checkpoint after a deletion did not complete (readers); retried after the next one")
        except Exception as exc:  # noqa: BLE001 - the deletion is committed; recovery finishes it
            if self._conn.in_transaction():
                self._conn.rollback()
            log.warning(
                "finishing a committed deletion failed (%s); recovery at start-up or in `carekey "
                "retention run` completes it",
                type(exc).__name__,
            )

    def rollback(self) -> None:
        assert self._conn is not None
        self._conn.rollback()
        self._people.forget()
        self._visits.forget()
        self._access_log.uncommitted = []
        self._shreds.scheduled = []  # the next statement begins a new transaction (autobegin)
