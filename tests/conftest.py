"""Shared fixtures: a database per backend (SQLite always; PostgreSQL when CAREKEY_TEST_PG_URL is set),
an initialized carekey app on it, and a small world (program, two sites, one user per role)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings

from carekey import bootstrap
from carekey.config import Settings
from carekey.domain.program import Program, Role, Site
from carekey.services.admin import DEMO_SEED, LOCAL_OPERATOR
from carekey.services.deps import Actor
from carekey.storage.sql.tables import metadata

PASSWORD = "correct horse battery"

# no test may fail on timing (a loaded CI machine): hypothesis's per-example deadline is off everywhere
hypothesis_settings.register_profile("carekey", deadline=None)
hypothesis_settings.load_profile("carekey")


@cache
def worker_database(url: str, worker: str) -> str:
    """The URL of this pytest-xdist worker's own database beside CAREKEY_TEST_PG_URL's (``<name>_<worker>``, e.g.
    ``carekey_test_gw1``), created on first use: tests drop and create every table (``reset_pg``), so two workers
    must never share one database."""
    base = sa.make_url(url)
    name = f"{base.database}_{worker}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    """Under pytest-xdist (``make test`` runs ``-n logical --dist loadgroup``): the tests go one by one to whichever
    worker is free, except that every browser test goes to one worker (they share one session's server and Chromium,
    started once rather than per worker), and the tests of a module with a module-scoped fixture (templates extracted
    from the fixture images) go to one worker (the fixture is computed once). xdist's own ``xdist_group`` marker
    cannot do this: it renames ``item._nodeid``, which pytest 9.2 no longer reads."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Grouped(LoadScopeScheduling):  # xdist's loadscope, with the scopes drawn by _xdist_scope
        def _split_scope(self, nodeid: str) -> str:
            return _xdist_scope(nodeid)

    return Grouped(config, log)


def _xdist_scope(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    if module.startswith("tests/e2e/browser/"):
        return "browser"
    return module if _has_module_fixture(module) else nodeid


@cache
def _has_module_fixture(module: str) -> bool:
    path = Path(__file__).resolve().parent.parent / module
    return path.suffix == ".py" and path.is_file() and 'scope="module"' in path.read_text(encoding="utf-8")


def pg_url_or_skip() -> str:
    """CAREKEY_TEST_PG_URL (under pytest-xdist, this worker's own database beside it: ``worker_database``)."""
    url = os.environ.get("CAREKEY_TEST_PG_URL")
    required = os.environ.get("CAREKEY_REQUIRE_PG") == "1"
    if not url:
        if required:
            pytest.fail("CAREKEY_REQUIRE_PG=1 but CAREKEY_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL tests need CAREKEY_TEST_PG_URL")
    try:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:
            url = worker_database(url, worker)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        if required:
            pytest.fail(f"CAREKEY_REQUIRE_PG=1 but PostgreSQL at CAREKEY_TEST_PG_URL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    return url


def shared_data_or_skip(*parts: str) -> Path:
    """``../shared/data/<parts>`` (beside the work tree, or one level up), skipping the test when it is absent,
    and failing it instead when CAREKEY_REQUIRE_DATA=1 (CI: interoperability tests never skip silently)."""
    root = Path(__file__).resolve().parents[1]
    for base in (root.parent, root.parent.parent):
        path = base.joinpath("shared", "data", *parts)
        if path.is_dir():
            return path
    what = "/".join(("../shared/data", *parts))
    if os.environ.get("CAREKEY_REQUIRE_DATA") == "1":
        pytest.fail(f"CAREKEY_REQUIRE_DATA=1 but {what} is not present")
    pytest.skip(f"{what} not present")


def reset_pg(url: str) -> None:
    """Drop every carekey table (and Alembic's version table) so that each test starts from nothing."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'carekey.db'}"
    url = pg_url_or_skip()
    reset_pg(url)
    return url


class Clock:
    """A settable clock (tests move time forward to expire tokens and rate windows)."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


@pytest.fixture
def settings(tmp_path, db_url):
    return Settings(data_dir=tmp_path / "data", database_url=db_url, argon2_time_cost=1, argon2_memory_kib=64)


@pytest.fixture
def app(settings):
    bootstrap.initialize(settings)
    built = bootstrap.build(settings)
    built.services.deps.clock = Clock()
    yield built
    built.close()


@dataclass
class World:
    registrar: Actor
    clinician: Actor
    registrar_south: Actor
    clinician_south: Actor
    manager: Actor
    auditor: Actor
    admin: Actor


def make_world(services) -> World:
    admin = services.admin
    admin.create_program(LOCAL_OPERATOR, Program("demo", "Demo screening", ("v1",), ("en", "fr")))
    admin.add_site(LOCAL_OPERATOR, Site("north", "demo", "North clinic", "Northern"))
    admin.add_site(LOCAL_OPERATOR, Site("south", "demo", "South school", "Southern"))
    spec = {
        "registrar": ("registrar", ["north"]),
        "clinician": ("clinician", ["north"]),
        "registrar_south": ("registrar", ["south"]),
        "clinician_south": ("clinician", ["south"]),
        "manager": ("program_manager", ["north", "south"]),
        "auditor": ("auditor", []),
        "admin": ("admin", []),
    }
    actors = {}
    for name, (role, sites) in spec.items():
        admin.add_user(LOCAL_OPERATOR, name.replace("_", "-"), role, PASSWORD, sites)
        actors[name] = Actor.of(admin.approve_user(DEMO_SEED, name.replace("_", "-")))
    assert actors["admin"].role is Role.ADMIN
    return World(**actors)


@pytest.fixture
def world(app):
    return make_world(app.services)


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance (2 CPUs, a small object store) for every Ray test of the session: starting Ray is
    most of a Ray test's time. Skips, with the reason, when Ray is not installed or cannot start on the machine;
    fails instead under CAREKEY_REQUIRE_RAY=1 (CI: ``ray`` is in the dev extra, so the Ray tests run there)."""
    required = os.environ.get("CAREKEY_REQUIRE_RAY") == "1"
    try:
        import ray
    except ImportError:  # pragma: no cover - depends on the install
        if required:
            pytest.fail("CAREKEY_REQUIRE_RAY=1 but Ray is not installed")
        pytest.skip("Ray is not installed (pip install 'carekey[ray]')")
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            ignore_reinit_error=True,
            log_to_driver=False,
            object_store_memory=100 * 2**20,
        )
    except Exception as exc:  # noqa: BLE001 - any start-up failure means "Ray cannot run here"
        if required:
            pytest.fail(f"CAREKEY_REQUIRE_RAY=1 but Ray cannot start on this machine: {exc}")
        pytest.skip(f"Ray cannot start on this machine: {exc}")
    yield ray
    ray.shutdown()
