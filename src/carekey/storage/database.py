"""A database: engine, Alembic migrations run programmatically, unit-of-work factory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from carekey.audit.promise import PromiseSigner
from carekey.crypto.keys import SecretStore
from carekey.storage.sql.engine import make_engine, wal_checkpoint
from carekey.storage.sql.feed import SqlTemplateFeed
from carekey.storage.sql.shreds import finish_shreds
from carekey.storage.sql.uow import SqlUnitOfWork

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


class _PromisingUnitOfWork(SqlUnitOfWork):
    """A unit of work whose access-log appends return a signed entry promise (``carekey.audit.promise``)."""

    def __init__(self, engine: Engine, store: SecretStore | None, promises: PromiseSigner) -> None:
        super().__init__(engine, store)
        self._promises = promises

    def __enter__(self) -> SqlUnitOfWork:
        super().__enter__()
        self._access_log.promises = self._promises
        return self


class Database:
    def __init__(self, url: str, store: SecretStore | None = None) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        self.store = store  # the key store whose secrets committed deletions destroy (phase 2)
        self.promises: PromiseSigner | None = None  # signs entry promises (the log key), set by bootstrap

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Upgrade the schema to the latest revision (idempotent)."""
        cfg = alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def is_current(self) -> bool:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision() == head

    def has_schema(self) -> bool:
        """True when the database has been migrated at least once (it holds carekey's tables)."""
        with self.engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")

    def uow(self, read_only: bool = False) -> SqlUnitOfWork:
        """A unit of work; ``read_only`` for paths that write nothing (SQLite: no write lock, see ``uow``)."""
        if self.promises is not None and not read_only:
            return _PromisingUnitOfWork(self.engine, self.store, self.promises)
        return SqlUnitOfWork(self.engine, self.store, read_only)

    def template_feed(self) -> SqlTemplateFeed:
        """The change feed the matcher's gallery follows (``carekey.biometrics.feed``)."""
        return SqlTemplateFeed(self.engine)

    def recover(self) -> int:
        """Finish what a crash left between the commit of a deletion and the destruction of its keys (phase 2
        of the two-phase erasure), then checkpoint the WAL. Returns the number of secrets destroyed."""
        assert self.store is not None, "recovery needs the key store"
        with self.engine.connect() as conn:
            done = finish_shreds(conn, self.store)
            wal_checkpoint(conn)
        return done

    def dispose(self) -> None:
        self.engine.dispose()
