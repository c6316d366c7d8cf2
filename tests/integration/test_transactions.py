"""Transactions sized to their work (issue 21): reads take no write lock on SQLite, argon2 runs outside any
transaction, and sign-ins beyond the hashing bound get 429 with Retry-After, never 500.

The write lock is held by a second, raw sqlite3 connection (``BEGIN IMMEDIATE``), as another request or process
would; what must not wait for it runs in a thread that has to finish while the lock is still held."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from carekey import bootstrap
from carekey.config import Settings
from carekey.errors import RateLimited
from carekey.interfaces.api.app import create_app
from carekey.services.hashing import HashGate
from tests.conftest import PASSWORD, Clock, make_world

WAIT = 10  # seconds a read may take while the writer holds the lock (it takes milliseconds; the busy timeout is 30)


@pytest.fixture
def built(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", argon2_time_cost=1, argon2_memory_kib=64)
    bootstrap.initialize(settings)
    app = bootstrap.build(settings)
    app.services.deps.clock = Clock()
    make_world(app.services)
    yield app
    app.close()


class WriteLock:
    """Another connection holding SQLite's one write lock (``BEGIN IMMEDIATE``) until ``release``."""

    def __init__(self, app: bootstrap.App) -> None:
        self.conn = sqlite3.connect(app.database.engine.url.database, isolation_level=None, timeout=WAIT)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def in_thread(fn) -> tuple[threading.Thread, dict]:  # type: ignore[no-untyped-def]
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_read_only_unit_of_work_and_token_check_take_no_write_lock(built):
    issued = built.services.auth.login("registrar", PASSWORD)
    lock = WriteLock(built)
    try:
        t, out = in_thread(lambda: built.services.auth.authenticate(issued.token))
        t.join(WAIT)
        assert not t.is_alive(), "the token check waited for the write lock"
        assert out["value"].username == "registrar"

        def read():  # type: ignore[no-untyped-def]
            with built.database.uow(read_only=True) as uow:
                return uow.users.by_username("clinician") is not None

        t, out = in_thread(read)
        t.join(WAIT)
        assert not t.is_alive() and out["value"] is True
        # a writing unit of work does wait for the writer (what the read-only one avoids)
        t, out = in_thread(lambda: built.services.auth.logout(issued.token))
        t.join(0.5)
        assert t.is_alive(), "a writing unit of work did not wait for the write lock"
    finally:
        lock.release()
    t.join(WAIT)
    assert not t.is_alive() and "error" not in out


def test_a_read_only_unit_of_work_refuses_to_commit(built):
    with built.database.uow(read_only=True) as uow, pytest.raises(RuntimeError, match="read-only"):
        uow.commit()


def test_tree_head_check_takes_no_write_lock_when_no_head_is_due(built):
    transparency = built.services.transparency
    transparency.publish_if_due(force=True)  # a head for the log as it is; none due until it grows
    assert not transparency.may_be_due()  # a young head: the middleware does not even leave the event loop
    clock = built.services.deps.clock
    clock.now = datetime.now(UTC) + timedelta(seconds=built.settings.tree_head_seconds + 1)
    assert transparency.may_be_due()
    lock = WriteLock(built)
    try:
        t, out = in_thread(transparency.publish_if_due)
        t.join(WAIT)
        assert not t.is_alive(), "the tree-head check waited for the write lock"
        assert out == {"value": None}
    finally:
        lock.release()


class BlockingHasher:
    """Wraps the argon2 hasher: ``verify`` waits until the test lets it go (a sign-in stuck in hashing)."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real, self.entered, self.go = real, threading.Event(), threading.Event()

    def verify(self, stored: str, password: str) -> bool:
        self.entered.set()
        assert self.go.wait(WAIT)
        return self.real.verify(stored, password)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.real, name)


def test_password_hashing_runs_outside_any_transaction(built):
    auth = built.services.auth
    auth.hasher = hasher = BlockingHasher(auth.hasher)
    t, out = in_thread(lambda: auth.login("registrar", PASSWORD))
    try:
        assert hasher.entered.wait(WAIT)
        lock = WriteLock(built)  # would wait (and time out) if the login held the write lock while hashing
        lock.release()
    finally:
        hasher.go.set()
    t.join(WAIT)
    assert out["value"].actor.username == "registrar"


def test_sign_ins_beyond_the_hashing_bound_get_429_with_retry_after(built):
    built.services.deps.hashing = HashGate(slots=1, admitted=1)
    auth = built.services.auth
    auth.hasher = hasher = BlockingHasher(auth.hasher)
    client = TestClient(create_app(built.settings, built=built, web=False))
    login = {"username": "clinician", "password": PASSWORD}
    t, out = in_thread(lambda: client.post("/auth/token", json=login))
    try:
        assert hasher.entered.wait(WAIT)  # one sign-in is hashing: the server's bound is reached
        r = client.post("/auth/token", json=login)
        assert r.status_code == 429, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["retry-after"]) >= 1
        assert "too many sign-ins at once" in r.json()["detail"]
    finally:
        hasher.go.set()
    t.join(WAIT)
    assert out["value"].status_code == 200
    hasher.go.set()
    assert client.post("/auth/token", json=login).status_code == 200  # the slot is free again


def test_the_hash_gate_bounds_admissions_and_frees_them():
    gate = HashGate(slots=2, admitted=3)
    assert (gate.slots, gate.admitted) == (2, 3)
    with gate.admit(), gate.admit(), gate.admit():
        with pytest.raises(RateLimited, match="too many sign-ins") as refused, gate.admit():
            pass
        assert refused.value.detail["retry_after"] == 1
    with gate.admit():  # all given back
        pass
    assert HashGate(slots=4).admitted == 16


def test_the_hash_gate_refuses_when_the_expected_wait_is_too_long():
    gate = HashGate(slots=1, admitted=10, max_wait=1.0)
    with gate.hashing():
        pass
    gate._mean = 0.6  # one hash takes 0.6 s on this (busy) machine
    assert gate.expected_wait(1) == 0.6 and gate.expected_wait(2) == 1.2
    with gate.admit(), gate.admit():  # the second waits 0.6 s: admitted
        with pytest.raises(RateLimited) as refused, gate.admit():  # would wait 1.2 s
            pass
        assert refused.value.detail["retry_after"] == 2
