"""Fault-injection suite (issue 14 / issue 21): deleted, truncated and bit-flipped key files, a deleted database,
secure deletion checked byte by byte in the SQLite files, kill -9 in the middle of erasures, a full disk.

Every test here is marked ``faults`` and runs in ``make test``. The disk is "filled" by SQLite itself: a
connection hook sets ``PRAGMA max_page_count`` to the database's current size, so that the next page SQLite
needs fails with SQLITE_FULL ("database or disk is full"), the error a full disk gives (no tmpfs or loop mount is
needed, and the failure reaches carekey through the real driver and SQLAlchemy)."""

from __future__ import annotations

import pytest

from carekey import bootstrap
from carekey.config import Settings
from tests.conftest import Clock, make_world


@pytest.fixture
def folder(tmp_path):
    """An initialized SQLite data folder laid out as `carekey init --data` makes it (files in one folder)."""
    settings = Settings(data_dir=tmp_path / "data", argon2_time_cost=1, argon2_memory_kib=64)
    bootstrap.initialize(settings)
    return settings


@pytest.fixture
def opened(folder):
    built = bootstrap.build(folder)
    built.services.deps.clock = Clock()
    built.world = make_world(built.services)  # type: ignore[attr-defined]
    yield built
    built.close()


@pytest.fixture
def world_of(opened):
    return opened.world


def data_files(settings: Settings) -> dict[str, bytes]:
    """The bytes of every SQLite file of the database (main file, -wal, -shm) as they are on disk now."""
    base = settings.data_dir / "carekey.db"
    return {
        p.name: p.read_bytes()
        for p in (base, base.with_name("carekey.db-wal"), base.with_name("carekey.db-shm"))
        if p.exists()
    }


def found_in(files: dict[str, bytes], needle: bytes) -> list[str]:
    return [name for name, data in files.items() if needle in data]
