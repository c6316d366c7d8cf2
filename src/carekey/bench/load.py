"""Load benchmark (``carekey bench load``): the path users get, over HTTP on loopback, at N concurrent clients.

Report only, never a timed test. One run:

1. a fresh data folder (SQLite, or ``database_url`` for PostgreSQL, whose carekey tables must be absent or are
   dropped with ``reset``) is initialized and seeded with the demo program through the services
   (``carekey init``, ``carekey demo --people``), in subprocesses of ``server_src`` when given, so that another
   source tree (e.g. ``main`` before a change) can be measured the same way;
2. ``carekey serve`` starts on a free loopback port (``workers`` uvicorn workers, default one; the production
   settings);
3. over HTTP, one known person per client is enrolled (with two exams) by the demo registrar and clinician;
4. for each operation, ``clients`` asyncio tasks (httpx) send requests back to back for ``seconds``:
   ``login`` (staff password, argon2id), ``open_visit``, ``lookup_card``, ``lookup_name``, ``read_exams``,
   ``record_exam``; a 429 is waited out (``Retry-After``, at most 1 s) and counted apart.

Per operation: successful requests per second (2xx), p50/p95/p99 latency of every answered request (ms),
``errors_5xx``, ``rejected_429`` and other 4xx, and ``server_cpu_ms_per_request``: the CPU time (user + system)
the server's processes (all workers) spent during the operation divided by the requests answered, read from
``/proc`` (Linux; absent elsewhere). It is the figure least disturbed by other work on the machine: throughput
on a quiet machine is at most ``cores * 1000 / cpu_ms`` requests per second.

The server runs with the defaults except the per-user lookup limits
(``identifications_per_hour``, ``identifications_per_site_per_day``) and the per-address login limit, raised because
every client shares one account and one loopback address here, which in the field are a thousand sites.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

OPERATIONS = ("login", "open_visit", "lookup_card", "lookup_name", "read_exams", "record_exam")
CARE = {"X-Carekey-Purpose": "care_record"}
SITE = "north"
#: server settings of the run (environment), see the module docstring
SERVER_ENV = {
    "CAREKEY_IDENTIFICATIONS_PER_HOUR": "1000000000",
    "CAREKEY_IDENTIFICATIONS_PER_SITE_PER_DAY": "1000000000",
    "CAREKEY_LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
}
GIVEN = ("Ama", "Kofi", "Abena", "Yaw", "Esi", "Kwame", "Akosua", "Kojo", "Adwoa", "Kwabena", "Afia", "Fiifi")
FAMILY = (
    "Mensah",
    "Owusu",
    "Boateng",
    "Asante",
    "Osei",
    "Addo",
    "Appiah",
    "Darko",
    "Quaye",
    "Tetteh",
    "Nyarko",
    "Amoah",
    "Bonsu",
    "Frimpong",
    "Gyamfi",
    "Ofori",
    "Sarpong",
    "Wiredu",
    "Yeboah",
    "Zakari",
)

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # seconds, every answered request
    ok: int = 0
    errors_5xx: int = 0
    rejected_429: int = 0
    other_4xx: int = 0
    failed: int = 0  # no answer (connection error, timeout)

    def add(self, status: int, seconds: float) -> None:
        self.latencies.append(seconds)
        if status < 400:
            self.ok += 1
        elif status == 429:
            self.rejected_429 += 1
        elif status >= 500:
            self.errors_5xx += 1
        else:
            self.other_4xx += 1

    def report(self, elapsed: float) -> dict[str, float | int]:
        lat = sorted(self.latencies)

        def pct(q: float) -> float:  # nearest rank
            return round(lat[min(len(lat) - 1, max(0, int(q * len(lat) + 0.5) - 1))] * 1000, 1) if lat else 0.0

        return {
            "rps": round(self.ok / elapsed, 1),
            "p50_ms": pct(0.50),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "errors_5xx": self.errors_5xx,
            "rejected_429": self.rejected_429,
            "other_4xx": self.other_4xx,
            "no_answer": self.failed,
            "requests": len(lat) + self.failed,
        }


@dataclass(frozen=True)
class Client:
    """What one simulated client works on: its person, a visit bound to them, a visit for lookups."""

    person_id: str
    card: str
    name: str
    birth_year: int
    bound_visit: str
    lookup_visit: str


@dataclass
class World:
    base: str
    users: dict[str, str]  # username -> password (demo accounts)
    tokens: dict[str, dict[str, str]]  # username -> Authorization header
    clients: list[Client] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def drop_carekey_tables(url: str) -> None:
    """Drop carekey's tables (and Alembic's) from the PostgreSQL database of a previous run."""
    import sqlalchemy as sa

    from carekey.storage.sql.tables import metadata

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


class Server:
    """``carekey serve`` in a subprocess on a fresh data folder (loopback only); ``close`` stops it."""

    def __init__(
        self, data: Path, database_url: str | None, server_src: Path | None, people: int, log: Log, workers: int = 1
    ) -> None:
        self.data, self.log = data, log
        self.env = os.environ | SERVER_ENV
        for name in ("CAREKEY_DATA_DIR", "CAREKEY_DATABASE_URL"):
            self.env.pop(name, None)
        if database_url:
            self.env["CAREKEY_DATABASE_URL"] = database_url
        if server_src is not None:
            self.env["PYTHONPATH"] = str(server_src.resolve())
        self._cli("init", "--data", str(data))
        log(f"seeding the demo program ({people} people) through the services")
        self._cli("demo", "--data", str(data), "--people", str(people))
        self.users = dict(line.split("\t")[0::2] for line in (data / "demo-users.txt").read_text().splitlines())
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._out = open(data / "server.log", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "carekey",
                "serve",
                "--data",
                str(data),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=self.env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise

    def _cli(self, *args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "carekey", *args], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"carekey {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see {self.data / 'server.log'}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not answer /health within 300 s")

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process and every live process under it (uvicorn's workers), from
        ``/proc`` (None where there is no ``/proc``)."""
        return process_tree_cpu(self.proc.pid)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()


def process_tree_cpu(root: int) -> float | None:
    """CPU seconds (utime + stime) of ``root`` and its live descendants, from ``/proc/<pid>/stat`` (Linux)."""
    proc = Path("/proc")
    if not (proc / str(root) / "stat").exists():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid ... utime(12) stime(13)
        parent[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0)
        todo += [child for child, ppid in parent.items() if ppid == pid]
    return total / ticks


async def _login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    for _ in range(60):
        r = await http.post("/auth/token", json={"username": username, "password": password})
        if r.status_code == 200:
            return {"Authorization": f"Bearer {r.json()['access_token']}"}
        if r.status_code not in (429, 503):
            raise RuntimeError(f"login of {username} failed: {r.status_code} {r.text}")
        await asyncio.sleep(1)
    raise RuntimeError(f"login of {username} kept being refused")


async def _checked(response: Awaitable[httpx.Response], what: str) -> dict[str, Any]:
    r = await response
    if r.status_code >= 300:
        raise RuntimeError(f"seeding ({what}) failed: {r.status_code} {r.text}")
    return r.json()


async def seed_clients(world: World, http: httpx.AsyncClient, count: int, log: Log) -> None:
    """One known person per client (enrolled with two exams in a visit bound to them) and an open lookup visit."""
    reg, clin = world.tokens[f"registrar-{SITE}"], world.tokens[f"clinician-{SITE}"]
    rng = random.Random(len(world.clients))
    for i in range(len(world.clients), count):
        name = (GIVEN[i % len(GIVEN)], f"{FAMILY[i % len(FAMILY)]}-{rng.choice(FAMILY)}")
        year, card = 1940 + i % 60, f"LB{700000 + i}"
        person = {
            "given_name": name[0],
            "family_name": name[1],
            "sex": "female",
            "birth_year": year,
            "card_number": card,
            "district": "Northern",
            "village": "Kpalsi",
        }
        consent = {"granted": ["care_record"], "notice_version": "v1", "language": "en"}
        visit = (await _checked(http.post("/visits", json={"site_id": SITE}, headers=reg), "visit"))["id"]
        pid = (
            await _checked(
                http.post(f"/visits/{visit}/people", json={"person": person, "consent": consent}, headers=reg | CARE),
                "enroll",
            )
        )["id"]
        for exam in (_exam(rng), _exam(rng)):
            await _checked(http.post(f"/visits/{visit}/people/{pid}/exams", json=exam, headers=clin | CARE), "exam")
        lookup = (await _checked(http.post("/visits", json={"site_id": SITE}, headers=reg), "visit"))["id"]
        world.clients.append(Client(pid, card, f"{name[0]} {name[1]}", year, visit, lookup))
    log(f"{count} bench people enrolled")


def _exam(rng: random.Random) -> dict[str, float]:
    sys_bp = rng.randint(100, 150)
    return {
        "systolic_bp": sys_bp,
        "diastolic_bp": sys_bp - rng.randint(30, 50),
        "pulse": rng.randint(55, 95),
        "weight_kg": round(rng.uniform(50, 90), 1),
        "height_cm": round(rng.uniform(150, 185), 1),
    }


def _request(
    world: World, op: str, c: Client, rng: random.Random
) -> tuple[str, str, dict[str, Any] | None, dict[str, str]]:
    reg, clin = world.tokens[f"registrar-{SITE}"], world.tokens[f"clinician-{SITE}"]
    if op == "login":
        user = f"clinician-{SITE}"
        return "POST", "/auth/token", {"username": user, "password": world.users[user]}, {}
    if op == "open_visit":
        return "POST", "/visits", {"site_id": SITE}, reg
    if op == "lookup_card":
        return "POST", f"/visits/{c.lookup_visit}/lookup", {"card_number": c.card}, reg | CARE
    if op == "lookup_name":
        return "POST", f"/visits/{c.lookup_visit}/lookup", {"name": c.name, "birth_year": c.birth_year}, reg | CARE
    if op == "read_exams":
        return "GET", f"/visits/{c.bound_visit}/people/{c.person_id}/exams", None, clin | CARE
    if op == "record_exam":
        return "POST", f"/visits/{c.bound_visit}/people/{c.person_id}/exams", _exam(rng), clin | CARE
    raise ValueError(f"unknown operation {op!r}; one of {', '.join(OPERATIONS)}")


async def run_operation(
    world: World,
    http: aiohttp.ClientSession,
    op: str,
    clients: int,
    seconds: float,
    cpu: Callable[[], float | None] = lambda: None,
) -> dict:
    stats = Stats()
    cpu_before, client_before = cpu(), time.process_time()
    start = time.perf_counter()
    stop = start + seconds

    async def client(i: int) -> None:
        rng = random.Random(i)
        c = world.clients[i]
        while time.perf_counter() < stop:
            method, url, body, headers = _request(world, op, c, rng)
            t0 = time.perf_counter()
            try:
                async with http.request(method, url, json=body, headers=headers) as r:
                    await r.read()
                    status, retry = r.status, r.headers.get("retry-after", "1")
            except aiohttp.ClientError:
                stats.failed += 1
                continue
            stats.add(status, time.perf_counter() - t0)
            if status == 429:
                await asyncio.sleep(min(1.0, float(retry or 1)))

    await asyncio.gather(*(client(i) for i in range(clients)))
    report = stats.report(time.perf_counter() - start)
    cpu_after, client_after = cpu(), time.process_time()
    if stats.latencies:  # the load client's own CPU (it shares the machine with the server on loopback)
        report["client_cpu_ms_per_request"] = round((client_after - client_before) * 1000 / len(stats.latencies), 2)
    if cpu_before is not None and cpu_after is not None and stats.latencies:
        report["server_cpu_ms_per_request"] = round((cpu_after - cpu_before) * 1000 / len(stats.latencies), 2)
    return report


async def _run_all(
    base: str,
    users: dict[str, str],
    clients: list[int],
    seconds: float,
    operations: list[str],
    log: Log,
    cpu: Callable[[], float | None] = lambda: None,
) -> list[dict]:
    limits = httpx.Limits(max_connections=max(clients) + 4, max_keepalive_connections=max(clients) + 4)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        world = World(base, users, {})
        for user in (f"registrar-{SITE}", f"clinician-{SITE}"):
            world.tokens[user] = await _login(http, user, users[user])
        await seed_clients(world, http, max(clients), log)
    # the measured requests go through aiohttp (its HTTP parser is C): the client shares the two cores with the
    # server on loopback, and httpx's pure-Python stack took ~4 ms of CPU per request (bench/results/load.md)
    connector = aiohttp.TCPConnector(limit=max(clients) + 4)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base_url=base, connector=connector, timeout=timeout) as http:
        runs = []
        for n in clients:
            ops = {}
            for op in operations:
                log(f"{n} client(s): {op} for {seconds:g} s")
                ops[op] = await run_operation(world, http, op, n, seconds, cpu)
                ops[op]["load_average_1min"] = round(os.getloadavg()[0], 1)
                log(f"  {_row(op, ops[op])}")
            runs.append({"clients": n, "operations": ops})
        return runs


def run(
    clients: list[int],
    seconds: float = 10,
    database_url: str | None = None,
    people: int = 50,
    operations: list[str] | None = None,
    server_src: Path | None = None,
    reset: bool = False,
    data: Path | None = None,
    log: Log = _stderr,
    workers: int = 1,
) -> dict:
    """Start a server on a fresh data folder, seed it, measure each operation at each client count; the report."""
    ops = list(operations or OPERATIONS)
    for op in ops:
        if op not in OPERATIONS:
            raise ValueError(f"unknown operation {op!r}; one of {', '.join(OPERATIONS)}")
    if not clients or min(clients) < 1:
        raise ValueError("--clients must be 1 or more")
    if workers < 1:
        raise ValueError("--workers must be 1 or more")
    if database_url and not database_url.startswith("postgresql"):
        raise ValueError("--database-url must be a PostgreSQL URL (postgresql+psycopg://...); SQLite is the default")
    if database_url and reset:
        drop_carekey_tables(database_url)
    load_before = os.getloadavg()[0]
    folder = data or Path(tempfile.mkdtemp(prefix="carekey-load-"))
    backend = "postgresql" if database_url else "sqlite"
    log(f"starting the server ({backend}) on a fresh data folder {folder}")
    server = Server(folder, database_url, server_src, people, log, workers)
    try:
        runs = _run_in_own_loop(_run_all(server.base, server.users, clients, seconds, ops, log, server.cpu_seconds))
    finally:
        server.close()
        if data is None:
            shutil.rmtree(folder, ignore_errors=True)
    return {
        "backend": backend,
        "seconds_per_operation": seconds,
        "workers": workers,
        "cpus": os.cpu_count(),
        "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # other work on the machine
        "python": platform.python_version(),
        "server_src": str(server_src) if server_src else None,
        "runs": [{"backend": backend} | r for r in runs],
    }


def _row(op: str, r: dict) -> str:
    cpu, client = r.get("server_cpu_ms_per_request"), r.get("client_cpu_ms_per_request")
    return (
        f"{op:<12} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>9.1f} "
        f"{r['errors_5xx']:>5} {r['rejected_429']:>5} {'-' if cpu is None else f'{cpu:.1f}':>7} "
        f"{'-' if client is None else f'{client:.1f}':>7} {r.get('load_average_1min', '-'):>5}"
    )


def table(report: dict) -> str:
    lines = []
    for run_ in report["runs"]:
        lines.append(
            f"{run_['backend']}, {report.get('workers', 1)} worker(s), {run_['clients']} client(s), "
            f"{report['seconds_per_operation']:g} s each (cpu ms: server CPU per request, client: the load client's; "
            "load: 1-min load average)"
        )
        lines.append(
            f"{'operation':<12} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>9} {'5xx':>5} {'429':>5} "
            f"{'cpu ms':>7} {'client':>7} {'load':>5}"
        )
        lines += [_row(op, r) for op, r in run_["operations"].items()]
        lines.append("")
    return "\n".join(lines)


def write(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = report["runs"]
    doc = runs[0] | {k: v for k, v in report.items() if k != "runs"} if len(runs) == 1 else report
    out.write_text(json.dumps(doc, indent=2))


def _run_in_own_loop(coro):
    """``asyncio.run`` in a thread of its own: the caller may already run an event loop (a notebook, a test
    process where a browser driver left one running), and ``asyncio.run`` refuses to nest."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
