"""A database: engine, Alembic migrations run programmatically, unit-of-work factory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from carekey.storage.sql.engine import make_engine
from carekey.storage.sql.uow import SqlUnitOfWork

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)

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

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
