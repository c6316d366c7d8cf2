"""A full disk (and other storage failures) answer 503 with a problem document and Retry-After, never 500, and
lose nothing acknowledged: what was committed before is intact, the failed request left nothing half-done (an
erasure under a full disk leaves the person whole and readable), and everything works again once space is back.

The full disk is a storage stub at the SQLAlchemy layer: while "full", every INSERT/UPDATE/DELETE fails inside
the driver call with the exact error SQLite raises on a full disk (sqlite3.OperationalError, SQLITE_FULL = 13,
"database or disk is full"), and so does every write to the key store. (tests/faults/test_tmpfs_disk_full.py
repeats the essentials on a real, full tmpfs when the machine lets us mount one.) A lost PostgreSQL connection:
the server terminates the request's backend mid-request."""

from __future__ import annotations

import re
import sqlite3

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from carekey import bootstrap
from carekey.config import Settings
from carekey.interfaces.api.app import create_app
from carekey.storage.keystore import FileSecretStore
from tests.conftest import PASSWORD, Clock, make_world, pg_url_or_skip, reset_pg
from tests.e2e.web_support import ImageFakeMatcher

pytestmark = pytest.mark.faults
CARE = {"X-Carekey-Purpose": "care_record"}
PERSON = {
    "given_name": "Ama",
    "family_name": "Mensah",
    "sex": "female",
    "birth_year": 1980,
    "card_number": "NK9001",
    "district": "Northern",
    "village": "Tamale",
}
CONSENT = {"granted": ["care_record", "biometric_identification"], "notice_version": "v1", "language": "en"}
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def disk_full_error() -> sqlite3.OperationalError:
    err = sqlite3.OperationalError("database or disk is full")
    err.sqlite_errorcode = 13  # type: ignore[attr-defined]  # SQLITE_FULL
    err.sqlite_errorname = "SQLITE_FULL"  # type: ignore[attr-defined]
    return err


class Disk:
    def __init__(self, engine: sa.Engine, monkeypatch) -> None:
        self.full = False
        sa.event.listen(engine, "before_cursor_execute", self._execute)
        real = FileSecretStore._connect

        def connect(store):  # type: ignore[no-untyped-def]
            db = real(store)
            if self.full:
                db.close()
                raise disk_full_error()
            return db

        monkeypatch.setattr(FileSecretStore, "_connect", connect)

    def _execute(self, _conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if self.full and WRITE.match(statement):
            raise disk_full_error()


@pytest.fixture
def api(opened, world_of, monkeypatch):
    opened.services.biometrics.matcher = ImageFakeMatcher()
    disk = Disk(opened.database.engine, monkeypatch)
    with TestClient(create_app(opened.settings, built=opened, web=False)) as client:
        yield client, disk, opened


def token(client, username):
    r = client.post("/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def unavailable(r) -> dict:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    assert body["status"] == 503 and body["type"] == "urn:carekey:problem:storage-unavailable" and body["detail"]
    return body


def count(app, table: str) -> int:
    with app.database.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_disk_full_answers_503_and_loses_nothing(api):
    client, disk, app = api
    reg, clin = token(client, "registrar"), token(client, "clinician")
    vid = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    first = client.post(
        f"/visits/{vid}/people", json={"person": PERSON, "consent": CONSENT, "pin": "135790"}, headers=reg | CARE
    )
    assert first.status_code == 201
    pid, log_size = first.json()["id"], count(app, "access_log")

    disk.full = True
    unavailable(client.post("/visits", json={"site_id": "north"}, headers=reg))
    unavailable(
        client.post(
            f"/visits/{vid}/people",
            json={"person": PERSON | {"card_number": "NK9002"}, "consent": CONSENT},
            headers=reg | CARE,
        )
    )
    unavailable(
        client.post(
            f"/visits/{vid}/people/{pid}/exams", json={"systolic_bp": 120, "diastolic_bp": 80}, headers=clin | CARE
        )
    )
    unavailable(client.post("/auth/token", json={"username": "clinician", "password": PASSWORD}))
    unavailable(client.post("/patient/token", json={"card_number": "NK9001", "pin": "135790"}))
    assert count(app, "people") == 1 and count(app, "access_log") == log_size  # nothing half-written

    disk.full = False
    patient = client.post("/patient/token", json={"card_number": "NK9001", "pin": "135790"}).json()["access_token"]
    bearer = {"Authorization": f"Bearer {patient}"}
    disk.full = True
    unavailable(client.post("/patient/erasure", headers=bearer))
    disk.full = False
    record = client.get("/patient/record", headers=bearer)  # the erasure under a full disk left them whole
    assert record.status_code == 200 and record.json()["person"]["card_number"] == "NK9001"
    with app.database.uow() as uow:
        assert uow.shreds.pending() == []

    v2 = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]  # one person per visit
    again = client.post(
        f"/visits/{v2}/people",
        json={"person": PERSON | {"card_number": "NK9002"}, "consent": CONSENT, "confirm_new_person": True},
        headers=reg | CARE,
    )  # the same name, birth year and village: a new person, confirmed
    assert again.status_code == 201  # the same request succeeds once there is room again
    assert client.post("/patient/erasure", headers=bearer).status_code == 204


def test_key_store_full_during_enrollment_answers_503(api):
    client, disk, app = api
    reg = token(client, "registrar")
    vid = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    real = FileSecretStore.create

    def full_create(store, key_ref):  # type: ignore[no-untyped-def]
        disk.full = True
        try:
            return real(store, key_ref)
        finally:
            disk.full = False

    FileSecretStore.create = full_create  # type: ignore[method-assign]
    try:
        unavailable(
            client.post(f"/visits/{vid}/people", json={"person": PERSON, "consent": CONSENT}, headers=reg | CARE)
        )
    finally:
        FileSecretStore.create = real  # type: ignore[method-assign]
    assert count(app, "people") == 0
    assert (
        client.post(
            f"/visits/{vid}/people", json={"person": PERSON, "consent": CONSENT}, headers=reg | CARE
        ).status_code
        == 201
    )


@pytest.fixture
def pg_api(tmp_path):
    url = pg_url_or_skip()
    reset_pg(url)
    settings = Settings(data_dir=tmp_path / "data", database_url=url, argon2_time_cost=1, argon2_memory_kib=64)
    bootstrap.initialize(settings)
    built = bootstrap.build(settings, matcher=ImageFakeMatcher())
    built.services.deps.clock = Clock()
    make_world(built.services)
    with TestClient(create_app(settings, built=built, web=False)) as client:
        yield client, built
    built.close()


@pytest.mark.postgres
def test_a_lost_postgresql_connection_answers_503_and_the_pool_recovers(pg_api):
    client, built = pg_api
    reg = token(client, "registrar")
    url = built.database.url.replace("postgresql+psycopg://", "postgresql://")
    armed = {"on": False}

    def kill_own_backend(conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if armed["on"] and WRITE.match(statement):
            armed["on"] = False
            pid = conn.connection.dbapi_connection.info.backend_pid
            with psycopg.connect(url, autocommit=True) as admin:  # the server drops the request's connection
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    sa.event.listen(built.database.engine, "before_cursor_execute", kill_own_backend)
    before = count(built, "visits")
    armed["on"] = True
    unavailable(client.post("/visits", json={"site_id": "north"}, headers=reg))
    assert count(built, "visits") == before  # nothing half-written
    for _ in range(3):  # the pool replaced the dead connection by itself
        assert client.post("/visits", json={"site_id": "north"}, headers=reg).status_code == 201
