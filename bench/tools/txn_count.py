"""Transactions per request and SQLite write-lock hold time per request, per operation (bench/results/load.md).

Writing transaction = ``BEGIN IMMEDIATE`` (holds SQLite's one write lock until commit/rollback), read-only =
``BEGIN DEFERRED``; counted with SQLAlchemy events, in-process (TestClient), production argon2 cost, 5 requests
each. Run from the repository root with ``PYTHONPATH=<src of the tree to measure>``:

    PYTHONPATH=src .venv/bin/python bench/tools/txn_count.py out.json
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from carekey import bootstrap
from carekey.config import Settings
from carekey.interfaces.api.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for tests.conftest
from tests.conftest import PASSWORD, make_world  # noqa: E402

CARE = {"X-Carekey-Purpose": "care_record"}
PERSON = {
    "given_name": "Ama",
    "family_name": "Mensah",
    "sex": "female",
    "birth_year": 1980,
    "card_number": "NK1001",
    "district": "Northern",
    "village": "Tamale",
}
N = int(os.environ.get("TXN_COUNT_REQUESTS", "5"))


def main(out: Path) -> None:
    settings = Settings(data_dir=Path(tempfile.mkdtemp()) / "data")
    bootstrap.initialize(settings)
    built = bootstrap.build(settings)
    make_world(built.services)
    stat = {"write": 0, "read": 0, "hold": 0.0}
    opened: dict[int, float] = {}

    def executed(conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        s = statement.strip().upper()
        if s.startswith("BEGIN IMMEDIATE"):
            stat["write"] += 1
            opened[id(conn)] = time.perf_counter()
        elif s.startswith("BEGIN"):
            stat["read"] += 1

    def ended(conn) -> None:  # type: ignore[no-untyped-def]
        t0 = opened.pop(id(conn), None)
        if t0 is not None:
            stat["hold"] += time.perf_counter() - t0

    sa.event.listen(built.database.engine, "after_cursor_execute", executed)
    sa.event.listen(built.database.engine, "commit", ended)
    sa.event.listen(built.database.engine, "rollback", ended)
    c = TestClient(create_app(settings, built=built, web=False))

    def token(user: str) -> dict[str, str]:
        r = c.post("/auth/token", json={"username": user, "password": PASSWORD})
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    reg, clin = token("registrar"), token("clinician")
    v = c.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    consent = {"granted": ["care_record"], "notice_version": "v1", "language": "en"}
    pid = c.post(f"/visits/{v}/people", json={"person": PERSON, "consent": consent}, headers=reg | CARE).json()["id"]
    lv = c.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    ops = {
        "login": lambda: c.post("/auth/token", json={"username": "clinician", "password": PASSWORD}),
        "open_visit": lambda: c.post("/visits", json={"site_id": "north"}, headers=reg),
        "lookup_card": lambda: c.post(f"/visits/{lv}/lookup", json={"card_number": "NK1001"}, headers=reg | CARE),
        "read_exams": lambda: c.get(f"/visits/{v}/people/{pid}/exams", headers=clin | CARE),
        "record_exam": lambda: c.post(f"/visits/{v}/people/{pid}/exams", json={"pulse": 70}, headers=clin | CARE),
        "token_check": lambda: c.get("/auth/me", headers=reg),
    }
    report = {}
    for name, request in ops.items():
        stat.update(write=0, read=0, hold=0.0)
        for _ in range(N):
            r = request()
            assert r.status_code < 300, (name, r.status_code, r.text)
        report[name] = {
            "write_txn": stat["write"] / N,
            "read_txn": stat["read"] / N,
            "write_lock_ms": round(1000 * stat["hold"] / N, 1),
        }
        print(
            f"{name:12} writing txn/req {stat['write'] / N:.1f}  read-only txn/req {stat['read'] / N:.1f}  "
            f"write lock held {1000 * stat['hold'] / N:7.1f} ms/req",
            flush=True,
        )
    out.write_text(json.dumps(report, indent=1))
    built.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
