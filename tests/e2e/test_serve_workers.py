"""``carekey serve --workers 2`` for real (issue 21): both worker processes answer logged writes at once, each
runs its own background log integrator, and the log they share is one consistent tree in which every promise
handed out (``CareKey-Log-Promise``) is kept. On SQLite, and on PostgreSQL when CAREKEY_TEST_PG_URL is set."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from carekey.audit.promise import decode_promises
from carekey.bench import load
from carekey.interfaces.api.app import PROMISE_HEADER
from tests.conftest import pg_url_or_skip

pytestmark = pytest.mark.slow
CARE = {"X-Carekey-Purpose": "care_record"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    if request.param == "sqlite":
        yield None
        return
    url = pg_url_or_skip()  # this xdist worker's own database
    load.drop_carekey_tables(url)
    yield url
    load.drop_carekey_tables(url)


async def _write_through_both(server: load.Server, rounds: int) -> tuple[list[int], list[dict]]:
    async with httpx.AsyncClient(base_url=server.base, timeout=120) as http:
        world = load.World(server.base, server.users, {})
        for user in (f"registrar-{load.SITE}", f"clinician-{load.SITE}"):
            world.tokens[user] = await load._login(http, user, server.users[user])
        await load.seed_clients(world, http, 4, lambda _m: None)
    clin = world.tokens[f"clinician-{load.SITE}"] | CARE

    async def one(c: load.Client) -> httpx.Response:
        # a connection of its own per request: the workers share the listening socket and each accepts some
        async with httpx.AsyncClient(base_url=server.base, timeout=120) as fresh:
            exam = {"systolic_bp": 120, "diastolic_bp": 80}
            return await fresh.post(f"/visits/{c.bound_visit}/people/{c.person_id}/exams", json=exam, headers=clin)

    statuses, promises = [], []
    for _ in range(rounds):
        answers = await asyncio.gather(*(one(c) for c in world.clients * 2))
        statuses += [r.status_code for r in answers]
        promises += [
            p.to_dict()
            for r in answers
            if PROMISE_HEADER in r.headers
            for p in decode_promises(r.headers[PROMISE_HEADER])
        ]
        if len(_workers_that_wrote(server.data / "server.log")) >= 2:
            break
    return statuses, promises


def _workers_that_wrote(log: Path) -> set[str]:
    line = re.compile(r"\[(\d+)\] request POST /visits/\{visit_id\}/people/\{person_id\}/exams 201")
    return {m.group(1) for m in line.finditer(log.read_text())}


def test_two_workers_write_one_consistent_log(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("CAREKEY_ARGON2_MEMORY_KIB", "64")  # the server's password hashing, at test cost
    monkeypatch.setenv("CAREKEY_ARGON2_TIME_COST", "1")
    data = tmp_path / "data"
    server = load.Server(data, database_url, None, 1, lambda _m: None, workers=2)
    try:
        # a thread of its own: another test on this xdist worker (Playwright's sync API) may leave an event loop
        # running in the main thread
        with ThreadPoolExecutor(1) as pool:
            statuses, promises = pool.submit(asyncio.run, _write_through_both(server, rounds=40)).result()
    finally:
        server.close()
    assert set(statuses) == {201}
    assert len(_workers_that_wrote(data / "server.log")) == 2, (data / "server.log").read_text()[-2000:]
    assert len(promises) == len(statuses)
    saved = tmp_path / "promises.jsonl"
    saved.write_text("\n".join(json.dumps(p) for p in promises))
    env = os.environ | {"CAREKEY_DATA_DIR": str(data), "CAREKEY_PASSWORD": server.users["auditor"]}
    env.pop("CAREKEY_DATABASE_URL", None)
    if database_url:
        env["CAREKEY_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-m", "carekey", "log", "verify", "--user", "auditor", "--promises", str(saved)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["promises_checked"] >= 2 * len(promises)  # stored and saved ones


def test_a_burst_of_keep_alive_connections_is_spread_over_the_workers(tmp_path, monkeypatch):
    """Each worker listens on a socket of its own (SO_REUSEPORT): 24 connections opened together and kept alive
    are not all accepted by the worker that woke first (uvicorn's shared socket: with 8 clients one worker served
    ~90 % of the requests on one core while the other idled). The kernel hashes connections over the sockets:
    all 24 on one of two workers has a chance of 2^-23."""
    monkeypatch.setenv("CAREKEY_ARGON2_MEMORY_KIB", "64")
    monkeypatch.setenv("CAREKEY_ARGON2_TIME_COST", "1")
    data = tmp_path / "data"
    server = load.Server(data, None, None, 1, lambda _m: None, workers=2)
    try:

        async def burst() -> list[int]:
            clients = [httpx.AsyncClient(base_url=server.base, timeout=60) for _ in range(24)]
            try:
                answers = await asyncio.gather(*(c.get("/health") for c in clients))
                again = await asyncio.gather(*(c.get("/health") for c in clients))  # same connections
                return [r.status_code for r in answers + again]
            finally:
                await asyncio.gather(*(c.aclose() for c in clients))

        with ThreadPoolExecutor(1) as pool:
            statuses = pool.submit(asyncio.run, burst()).result()
    finally:
        server.close()
    assert set(statuses) == {200}
    served = re.findall(r"\[(\d+)\] request GET /health 200", (data / "server.log").read_text())
    assert len(served) >= 48  # the burst, after the bench server's own start-up polls
    served = served[-48:]
    assert len(set(served)) == 2, f"one worker took every connection: {set(served)}"
