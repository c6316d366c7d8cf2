"""The SQL unit of work: one connection, one transaction, every repository bound to it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from carekey.storage.sql.access_log import SqlAccessLogRepository
from carekey.storage.sql.biometrics import SqlBiometricRepository
from carekey.storage.sql.budget import SqlBudgetStore
from carekey.storage.sql.consents import SqlConsentRepository
from carekey.storage.sql.exams import SqlExamRepository
from carekey.storage.sql.images import SqlImageRepository
from carekey.storage.sql.log_tree import SqlTreeHeadRepository
from carekey.storage.sql.login_limits import SqlLoginLimitRepository
from carekey.storage.sql.people import SqlPersonRepository
from carekey.storage.sql.programs import SqlProgramRepository
from carekey.storage.sql.users import SqlUserRepository
from carekey.storage.sql.visits import SqlVisitRepository


class SqlUnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        conn = self._engine.connect()
        conn.begin()
        self._conn = conn
        self.programs = SqlProgramRepository(conn)
        self.users = SqlUserRepository(conn)
        self.people = SqlPersonRepository(conn)
        self.visits = SqlVisitRepository(conn)
        self.exams = SqlExamRepository(conn)
        self.consents = SqlConsentRepository(conn)
        self.access_log = SqlAccessLogRepository(conn)
        self.biometrics = SqlBiometricRepository(conn)
        self.images = SqlImageRepository(conn)
        self.tree_heads = SqlTreeHeadRepository(conn)
        self.budget = SqlBudgetStore(conn)
        self.login_limits = SqlLoginLimitRepository(conn)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None

    def commit(self) -> None:
        assert self._conn is not None, "commit outside the unit of work"
        self._conn.commit()
        self._conn.begin()

    def rollback(self) -> None:
        assert self._conn is not None
        self._conn.rollback()
        self._conn.begin()
