"""Concurrent logged writes: N client processes each run transactions that append one access-log entry
(``carekey.services.access.log_access``, the path every request takes) and hold the transaction open for
``--work-ms`` more (the request's own reads and writes), on SQLite or PostgreSQL. Reports entries/s and latency
percentiles per transaction, then integrates whatever waits and checks the tree (size = entries, ``log verify``
style root check against the signed head).

Runs against whatever ``carekey`` is importable, so the same script measures the code before the change (one
global append lock, tree nodes written in every request's transaction) and after it (appends without a lock,
the integrator in its own process every second, like the server's background task):

    .venv/bin/python bench/log_append.py --clients 8 --seconds 10                      # this tree, SQLite
    .venv/bin/python bench/log_append.py --clients 8 --database-url postgresql+psycopg://... --reset-pg
    PYTHONPATH=/tmp/ck-before/src .venv/bin/python bench/log_append.py --label before ...  # the old code

Writes/extends bench/results/log_append.json (one record per run) and prints a table. Not a test: nothing
asserts a time. Loopback databases on the machine it runs on; numbers are for comparison, not capacity.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "log_append.json"


def _settings(data: str, url: str | None):  # type: ignore[no-untyped-def]
    from carekey.config import Settings

    return Settings(data_dir=Path(data), database_url=url)


def _app(data: str, url: str | None):  # type: ignore[no-untyped-def]
    from carekey import bootstrap

    for attempt in range(10):  # many processes opening one SQLite file at once may find it busy
        try:
            return bootstrap.build(_settings(data, url), matcher=object())  # type: ignore[arg-type]  # no biometrics
        except Exception:  # noqa: BLE001 - retried, then raised
            if attempt == 9:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _client(
    data: str,
    url: str | None,
    seconds: float,
    work_ms: float,
    ready: mp.Queue,
    go,  # type: ignore[no-untyped-def,type-arg]
    k: int,
    out: mp.Queue,
) -> None:  # type: ignore[type-arg]
    from carekey.domain.program import Role
    from carekey.services.access import log_access
    from carekey.services.deps import Actor

    app = _app(data, url)
    actor = Actor(f"U-bench-{k}", f"bench{k}", Role.CLINICIAN, frozenset({"north"}))
    uow_factory = app.services.deps.uow
    lat: list[float] = []
    ready.put(k)
    go.wait()
    end = time.time() + seconds
    errors: list[str] = []
    while time.time() < end:
        t0 = time.perf_counter()
        try:
            with uow_factory() as uow:
                log_access(
                    uow,
                    datetime.now(UTC),
                    actor,
                    "read_record",
                    "care_record",
                    "granted",
                    "bench",
                    "north",
                    f"CK-BNCH-{k:04d}",
                )
                if work_ms:
                    time.sleep(work_ms / 1000)  # the request's own work, inside its transaction
                uow.commit()
        except Exception as exc:  # noqa: BLE001 - counted and reported (e.g. "database is locked")
            errors.append(type(exc).__name__)
            continue
        lat.append(time.perf_counter() - t0)
    app.close()
    out.put((lat, errors))


def _integrator(data: str, url: str | None, seconds: float, ready: mp.Queue, go) -> None:  # type: ignore[no-untyped-def,type-arg]
    app = _app(data, url)
    integrate = getattr(app.services.transparency, "integrate", None)  # None: the code before (inline tree)
    ready.put(-1)
    go.wait()
    stop_at = time.time() + seconds
    while time.time() < stop_at:
        time.sleep(1.0)
        if integrate is not None:
            integrate(False)
    app.close()


def reset_pg(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def run(clients: int, seconds: float, work_ms: float, url: str | None, label: str) -> dict[str, object]:
    from carekey import bootstrap

    data = tempfile.mkdtemp(prefix="ck-logbench-")
    if url:
        reset_pg(url)
    bootstrap.initialize(_settings(data, url))
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    ready: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    go = ctx.Event()
    procs = [ctx.Process(target=_client, args=(data, url, seconds, work_ms, ready, go, k, out)) for k in range(clients)]
    procs.append(ctx.Process(target=_integrator, args=(data, url, seconds, ready, go)))
    for p in procs:
        p.start()
    for _ in procs:  # every process opened its app before the clock starts
        ready.get(timeout=600)
    go.set()
    lat: list[float] = []
    errors: list[str] = []
    for _ in range(clients):
        got_lat, got_errors = out.get(timeout=seconds + 600)
        lat += got_lat
        errors += got_errors
    for p in procs:
        p.join()
    app = _app(data, url)
    t0 = time.perf_counter()
    app.services.transparency.publish_if_due(force=True)  # integrate what waits, sign
    settle_ms = (time.perf_counter() - t0) * 1000
    with app.services.deps.uow() as uow:
        size, tree_size = uow.access_log.size(), uow.access_log.tree().size
        head = uow.tree_heads.latest()
        leaves = uow.access_log.leaves()
    from carekey.audit.merkle import MerkleLog

    rebuilt = MerkleLog()
    for _, d in leaves:
        rebuilt.append(d)
    consistent = head is not None and head.size == size == tree_size and rebuilt.root() == head.root
    app.close()
    lat.sort()
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: 0.0)
    return {
        "label": label,
        "backend": "postgresql" if url else "sqlite",
        "clients": clients,
        "seconds": seconds,
        "work_ms": work_ms,
        "entries": len(lat),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "entries_per_s": len(lat) / seconds,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(lat) * 1000 if lat else 0.0,
        "final_integration_ms": settle_ms,
        "tree_consistent": consistent,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def table(rows: list[dict[str, object]]) -> str:
    head = (
        f"{'label':<8} {'backend':<10} {'clients':>7} {'work ms':>7} {'entries/s':>10} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>6} {'tree ok':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['label']:<8} {r['backend']:<10} {r['clients']:>7} {r['work_ms']:>7} "
            f"{r['entries_per_s']:>10.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['errors']:>6} {str(r['tree_consistent']):>7}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--work-ms", type=float, default=2.0)
    ap.add_argument("--database-url", default=None, help="postgresql+psycopg://... (its public schema is RESET)")
    ap.add_argument("--label", default="after")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rows = [run(n, args.seconds, args.work_ms, args.database_url, args.label) for n in args.clients]
    print(table(rows))
    previous = json.loads(args.out.read_text()) if args.out.exists() else []
    keep = [
        r
        for r in previous
        if not any(
            r["label"] == x["label"]
            and r["backend"] == x["backend"]
            and r["clients"] == x["clients"]
            and r["work_ms"] == x["work_ms"]
            for x in rows
        )
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(keep + rows, indent=2) + "\n")
    print(f"written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
