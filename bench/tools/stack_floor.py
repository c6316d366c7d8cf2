"""The floor of our stack on this machine: what FastAPI + uvicorn + SQLAlchemy + the database give per second when
a request does nothing but the statements a logged write does (issue 21, bench/results/load.md).

A skeleton app, no carekey code: a token check (one read-only transaction, one SELECT by primary key) as a
dependency, then one writing transaction of ``--selects`` SELECTs by primary key and ``--writes`` INSERTs, as
``carekey serve --workers N`` runs it (N uvicorn processes, each on its own ``SO_REUSEPORT`` socket, httptools and
uvloop), loaded by aiohttp clients back to back on the same machine, like ``carekey bench load``. Whatever carekey
adds (policy, sealing, the log entry's promise, validation) can only lower the figure: a target above the floor
cannot be met on this machine with this stack, whatever the application does.

    PYTHONPATH=src .venv/bin/python bench/tools/stack_floor.py --clients 8 --seconds 8 --workers 2 \
        [--database-url postgresql+psycopg://...] [--selects 3 --writes 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiohttp


def _app(url: str, selects: int, writes: int):  # type: ignore[no-untyped-def]
    from fastapi import Depends, FastAPI, Header
    from sqlalchemy import create_engine, event, text

    sqlite = url.startswith("sqlite")
    engine = create_engine(url, pool_size=20) if not sqlite else create_engine(url, connect_args={"timeout": 30})
    if sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None
            for p in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
                dbapi_conn.execute(f"PRAGMA {p}")

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN DEFERRED")

    app = FastAPI()

    def actor(authorization: str = Header("")) -> str:
        # as carekey's token check: one statement, in autocommit on PostgreSQL, a deferred transaction on SQLite
        with engine.connect() as c:
            if not sqlite:
                c = c.execution_options(isolation_level="AUTOCOMMIT")
            row = c.execute(text("SELECT id, a FROM floor_rows WHERE id = 1")).first()
            c.commit()
        return str(row[0]) if row else ""

    @app.post("/w")
    def write(body: dict, who: str = Depends(actor)) -> dict:  # type: ignore[type-arg]
        with engine.connect() as c:
            c.info["write"] = True
            for i in range(selects):
                c.execute(text("SELECT id, a, b FROM floor_rows WHERE id = :i"), {"i": 1 + i % 50}).first()
            for _ in range(writes):
                c.execute(text("INSERT INTO floor_rows (a, b) VALUES (:a, :b)"), {"a": "x" * 200, "b": who})
            c.commit()
            c.info["write"] = False
        return {"ok": True}

    return app


def _prepare(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if url.startswith("sqlite") else "BIGSERIAL PRIMARY KEY"
    with engine.begin() as c:
        c.execute(text("DROP TABLE IF EXISTS floor_rows"))
        c.execute(text(f"CREATE TABLE floor_rows (id {serial}, a TEXT, b TEXT)"))
        for _ in range(50):
            c.execute(text("INSERT INTO floor_rows (a, b) VALUES ('seed', 'seed')"))
    engine.dispose()


def _worker(url: str, selects: int, writes: int, port: int) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(_app(url, selects, writes), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


async def _load(port: int, clients: int, seconds: float) -> tuple[int, int, list[float]]:
    url = f"http://127.0.0.1:{port}/w"
    ok = bad = 0
    lat: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as s:
        for _ in range(50):  # warm up every worker's pool and statement cache
            async with s.post(url, json={"x": 1}, headers={"Authorization": "Bearer t"}) as r:
                await r.read()
        end = time.perf_counter() + seconds

        async def one() -> None:
            nonlocal ok, bad
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                async with s.post(url, json={"x": 1}, headers={"Authorization": "Bearer t"}) as r:
                    await r.read()
                lat.append(time.perf_counter() - t0)
                ok, bad = (ok + 1, bad) if r.status == 200 else (ok, bad + 1)

        await asyncio.gather(*[one() for _ in range(clients)])
    return ok, bad, lat


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the skeleton server did not start")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", help="default: SQLite in a fresh temporary folder")
    p.add_argument("--clients", type=int, action="append")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--selects", type=int, default=3, help="SELECTs in the writing transaction")
    p.add_argument("--writes", type=int, default=4, help="INSERTs in the writing transaction")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    url = a.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='carekey-floor-')}/floor.db"
    _prepare(url)
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(url, a.selects, a.writes, port), daemon=True) for _ in range(a.workers)]
    for proc in procs:
        proc.start()
    _wait(port)
    time.sleep(2)
    results = []
    try:
        for clients in a.clients or [8]:
            cpu0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime
            ok, bad, lat = asyncio.run(_load(port, clients, a.seconds))
            ru = resource.getrusage(resource.RUSAGE_SELF)
            lat.sort()
            row = {
                "backend": "postgresql" if url.startswith("postgresql") else "sqlite",
                "workers": a.workers,
                "clients": clients,
                "statements": {"token_check": 1, "selects": a.selects, "writes": a.writes},
                "rps": round(ok / a.seconds, 1),
                "errors": bad,
                "p50_ms": round(lat[len(lat) // 2] * 1000, 1),
                "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1),
                "client_cpu_ms_per_request": round((ru.ru_utime + ru.ru_stime - cpu0) * 1000 / max(ok, 1), 2),
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
            results.append(row)
            print(
                f"{row['backend']:<10} workers {a.workers} clients {clients:>3}  {row['rps']:>7} req/s  "
                f"p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  errors {bad}  "
                f"client CPU {row['client_cpu_ms_per_request']} ms/req  load {row['load_average_1min']}",
                flush=True,
            )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(5)
    if a.json:
        a.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
