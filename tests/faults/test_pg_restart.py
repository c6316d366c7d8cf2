"""A PostgreSQL restart under concurrent requests (issue 21, "databases that hiccup"): every connection of the app
is terminated by the server (``pg_terminate_backend``, what a restart does to them) several times while 8 clients
send requests to a real uvicorn server. Every answer is 2xx or 503 (with Retry-After and a problem document),
never 500; afterwards requests succeed again without any restart of the app (the pool recovers by itself)."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import psycopg
import pytest
import uvicorn

from carekey import bootstrap
from carekey.config import Settings
from carekey.interfaces.api.app import create_app
from tests.conftest import PASSWORD, Clock, make_world, pg_url_or_skip, reset_pg

pytestmark = [pytest.mark.faults, pytest.mark.postgres]
CLIENTS = 8
KILLS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path):
    url = pg_url_or_skip()
    reset_pg(url)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        tree_head_seconds=0,
        # this test is about a restart, not the lookup limits: 8 clients look up as fast as the server answers
        identifications_per_hour=100_000,
        identifications_per_site_per_day=1_000_000,
    )
    bootstrap.initialize(settings)
    built = bootstrap.build(settings)
    built.services.deps.clock = Clock()
    make_world(built.services)
    port = _free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(settings, built=built, web=False), host="127.0.0.1", port=port, log_level="critical")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{base}/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield base, url.replace("postgresql+psycopg://", "postgresql://")
    srv.should_exit = True
    thread.join(10)
    built.close()


def terminate_app_connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return sum(1 for (done,) in rows if done)


def test_a_postgresql_restart_mid_run_answers_only_2xx_or_503_and_recovers(server):
    base, url = server
    with httpx.Client(base_url=base, timeout=60) as http:
        login = http.post("/auth/token", json={"username": "registrar", "password": PASSWORD})
        reg = {"Authorization": f"Bearer {login.json()['access_token']}"}
    statuses: list[int] = []
    problems: list[httpx.Response] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            while not stop.is_set():
                r = http.post("/visits", json={"site_id": "north"}, headers=reg)
                statuses.append(r.status_code)
                if r.status_code == 503:
                    problems.append(r)
                vid = r.json().get("id") if r.status_code == 201 else None
                if vid:
                    r = http.post(
                        f"/visits/{vid}/lookup",
                        json={"card_number": "NK404"},
                        headers=reg | {"X-Carekey-Purpose": "care_record"},
                    )
                    statuses.append(r.status_code)
                    if r.status_code == 503:
                        problems.append(r)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    killed = 0
    try:
        for _ in range(KILLS):
            time.sleep(0.7)
            killed += terminate_app_connections(url)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert killed > 0, "no connection of the app was terminated: the test did not exercise anything"
    assert statuses and sorted(set(statuses) - {200, 201, 503}) == [], sorted(set(statuses))
    for r in problems:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["retry-after"]) > 0
    with httpx.Client(base_url=base, timeout=60) as http:  # recovered by itself: no 503 any more
        for _ in range(3):
            assert http.post("/visits", json={"site_id": "north"}, headers=reg).status_code == 201
