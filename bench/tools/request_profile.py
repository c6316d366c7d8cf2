"""CPU per request of the deployed path, in-process, with cProfile (bench/results/load_profile.md).

The data folder is made as ``carekey bench load`` makes it (``carekey init``, ``carekey demo --people 50`` in
subprocesses, then one known person per client enrolled over HTTP); the app is ``create_app`` with the web UI
mounted and the production settings (``carekey.bench.load.SERVER_ENV``). Requests go through the whole ASGI stack
(middleware, routing, dependencies, pydantic, the services, the database) with ``httpx.ASGITransport``; the
thread pool that runs sync endpoints is replaced by a direct call so that cProfile (one thread) sees the whole
request. The background log integrator runs every ``--integrate-every`` requests, as the server's task would
(at ~40 req/s and one integration per second). Sequential requests: this measures CPU per request, not
contention.

    PYTHONPATH=src .venv/bin/python bench/tools/request_profile.py --requests 300 [--database-url URL] \
        [--op record_exam] [--top 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio.to_thread
import httpx

from carekey.bench import load


async def _direct(func, *args, abandon_on_cancel=False, cancellable=None, limiter=None):  # type: ignore[no-untyped-def]
    return func(*args)


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "carekey", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"carekey {args[0]} failed: {done.stderr or done.stdout}")


def build(database_url: str | None):  # type: ignore[no-untyped-def]
    data = Path(tempfile.mkdtemp(prefix="carekey-prof-")) / "data"
    env = os.environ | load.SERVER_ENV
    env.pop("CAREKEY_DATA_DIR", None)
    env.pop("CAREKEY_DATABASE_URL", None)
    if database_url:
        load.drop_carekey_tables(database_url)
        env["CAREKEY_DATABASE_URL"] = database_url
    _cli(env, "init", "--data", str(data))
    _cli(env, "demo", "--data", str(data), "--people", "50")
    os.environ.update({k: v for k, v in env.items() if k.startswith("CAREKEY_")})
    from carekey.config import Settings
    from carekey.interfaces.api.app import create_app

    settings = Settings(data_dir=data)
    app = create_app(settings)
    users = dict(line.split("\t")[0::2] for line in (data / "demo-users.txt").read_text().splitlines())
    return app, users


async def measure(app, users: dict[str, str], ops: list[str], n: int, every: int, top: int) -> dict:  # type: ignore[no-untyped-def]
    anyio.to_thread.run_sync = _direct  # type: ignore[assignment]
    state = app.state.carekey
    report: dict = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as http:
        world = load.World("http://test", users, {})
        for user in (f"registrar-{load.SITE}", f"clinician-{load.SITE}"):
            world.tokens[user] = await load._login(http, user, users[user])
        await load.seed_clients(world, http, 4, lambda _m: None)
        rng = random.Random(1)
        for op in ops:
            for i in range(20):  # warm up (caches, statements, imports)
                await _one(http, world, op, world.clients[i % 4], rng)
            state.services.transparency.integrate(False)
            prof = cProfile.Profile(time.process_time)  # CPU, not wall: waits for I/O and the scheduler excluded
            cpu0, wall0 = time.process_time(), time.perf_counter()
            prof.enable()
            for i in range(n):
                await _one(http, world, op, world.clients[i % 4], rng)
                if (i + 1) % every == 0:
                    state.services.transparency.integrate(False)
            prof.disable()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out)
            stats.sort_stats("cumulative").print_stats(top)
            stats.sort_stats("tottime").print_stats(top)
            stats.sort_stats("cumulative").print_stats(r"carekey/", top)
            # cProfile inflates CPU time (~1.5-2x); the uninstrumented figure is measured again below
            report[op] = {"profiled_cpu_ms_per_request": round(cpu / n * 1000, 2), "profile": out.getvalue()}
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(n):
                await _one(http, world, op, world.clients[i % 4], rng)
                if (i + 1) % every == 0:
                    state.services.transparency.integrate(False)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            report[op] |= {
                "cpu_ms_per_request": round(cpu / n * 1000, 2),
                "wall_ms_per_request": round(wall / n * 1000, 2),
            }
    return report


async def _one(http: httpx.AsyncClient, world: load.World, op: str, c: load.Client, rng: random.Random) -> None:
    method, url, body, headers = load._request(world, op, c, rng)
    r = await http.request(method, url, json=body, headers=headers)
    if r.status_code >= 300:
        raise RuntimeError(f"{op}: {r.status_code} {r.text}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--database-url")
    p.add_argument("--op", action="append", default=None)
    p.add_argument("--integrate-every", type=int, default=40)
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--json", type=Path)
    p.add_argument("--quiet", action="store_true", help="print only the CPU figures, not the profiles")
    a = p.parse_args()
    ops = a.op or ["lookup_card", "read_exams", "record_exam"]  # the order of bench load (reads see 2 exams)
    app, users = build(a.database_url)
    report = asyncio.run(measure(app, users, ops, a.requests, a.integrate_every, a.top))
    app.state.carekey.close()
    for op, r in report.items():
        if not a.quiet:
            print(r["profile"])
        print(
            f"{op}: {r['cpu_ms_per_request']} CPU ms/request ({r['wall_ms_per_request']} ms wall; "
            f"{r['profiled_cpu_ms_per_request']} under cProfile), load average {os.getloadavg()[0]:.1f}"
        )
    if a.json:
        a.json.write_text(json.dumps({op: {k: v for k, v in r.items() if k != "profile"} for op, r in report.items()}))


if __name__ == "__main__":
    main()
