"""Replay the numbered findings of issues 14 and 11 black-box against a running carekey server (HTTP only).

Usage (a server from ``carekey demo`` + ``carekey serve``; a second one started with
``CAREKEY_TRUSTED_PROXIES='["127.0.0.1"]'`` on a copy of the folder, so that X-Forwarded-For can play many
client addresses)::

    python bench/tools/replay_findings.py --url http://127.0.0.1:8731 --proxied-url http://127.0.0.1:8732 \
        --data /tmp/ck_contract_bb --pid 12345 --out bench/results/contract/replay.json

Each check prints one line ``finding | verdict | what was seen``; ``fixed`` means the attack is refused now.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import time
from pathlib import Path

import httpx

RESULTS: list[dict[str, object]] = []


def record(finding: str, fixed: bool, seen: str) -> None:
    RESULTS.append({"finding": finding, "status": "fixed" if fixed else "REPRODUCES", "seen": seen})
    print(f"{finding:<48} | {'fixed' if fixed else 'REPRODUCES':<10} | {seen}", flush=True)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def users(data: Path) -> dict[str, str]:
    lines = (data / "demo-users.txt").read_text().splitlines()
    return {line.split("\t")[0]: line.split("\t")[2].strip() for line in lines if line.count("\t") >= 2}


def token(c: httpx.Client, user: str, password: str) -> dict[str, str]:
    r = c.post("/auth/token", json={"username": user, "password": password})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def visit(c: httpx.Client, h: dict[str, str], site: str = "north") -> str:
    r = c.post("/visits", json={"site_id": site}, headers=h)
    r.raise_for_status()
    return r.json()["id"]


CARE = {"X-Carekey-Purpose": "care_record"}


def main() -> None:  # noqa: C901 - one replay after the other, in the order of the issues
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--proxied-url", required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    pw = users(a.data)
    card, pin = (a.data / "demo-patients.txt").read_text().split()[:2]
    c = httpx.Client(base_url=a.url, timeout=120)
    reg, clin, reg_s = (token(c, u, pw[u]) for u in ("registrar-north", "clinician-north", "registrar-south"))
    mgr, adm = token(c, "manager", pw["manager"]), token(c, "admin", pw["admin"])

    # -- issue 11 -------------------------------------------------------------------------------------------
    v = visit(c, reg)
    found = c.post(f"/visits/{v}/lookup", json={"card_number": card}, headers=reg | CARE).json()
    pid = found[0]["person_id"]
    me = found[0]
    seen = c.post(
        f"/visits/{visit(c, reg)}/lookup",
        headers=reg | CARE,
        json={"name": f"{me['given_name']} {me['family_name']}", "birth_year": me["birth_year"]},
    ).json()
    others = (
        [x["person_id"] for x in seen if isinstance(x, dict) and x["person_id"] != pid]
        if isinstance(seen, list)
        else []
    )
    others += ["CK-AAAA-AAAA", "CK-BBBB-BBBB", "CK-CCCC-CCCC", "CK-DDDD-DDDD"]
    empty = visit(c, clin)
    codes = [c.get(f"/visits/{empty}/people/{p}/exams", headers=clin | CARE).status_code for p in [pid, *others][:5]]
    record("11.1 one empty visit reads many people", all(s in (403, 404) for s in codes), f"exams of 5 ids: {codes}")
    pt = c.post("/patient/token", json={"card_number": card, "pin": pin}).json()["access_token"]
    revoked = c.post("/patient/consents/aggregate_statistics/revoke", headers={"Authorization": f"Bearer {pt}"})
    bound = visit(c, reg)
    c.post(f"/visits/{bound}/lookup", json={"card_number": card}, headers=reg | CARE)
    c.get(f"/visits/{bound}/people/{pid}", headers=reg | CARE)
    r = c.post(
        f"/visits/{bound}/people/{pid}/consents",
        headers=reg | CARE,
        json={"purpose": "aggregate_statistics", "granted": True, "notice_version": "v1", "language": "en"},
    )
    record(
        "11.2 staff re-grant a withdrawal w/o presence",
        r.status_code == 403,
        f"person revoked: {revoked.status_code}; registrar re-grants in a bound visit: {r.status_code}",
    )
    s = visit(c, reg_s, "south")
    r = c.post(f"/visits/{s}/people/{pid}/pin", json={"pin": "739146"}, headers=reg_s | CARE)
    record("11.3 PIN reset from another site", r.status_code in (403, 404), f"{r.status_code}")
    mallory = f"mallory{int(time.time())}"
    r = c.post(
        "/admin/users",
        headers=adm,
        json={"username": mallory, "role": "registrar", "password": "a long password 1", "site_ids": ["north"]},
    )
    mal = token(c, mallory, "a long password 1") if r.status_code == 201 else None
    code = c.post("/visits", json={"site_id": "north"}, headers=mal).status_code if mal else -1
    acts = c.get("/transparency/admin-actions").json()
    record(
        "11.5 admin's new account reads records",
        code == 403 and bool(acts),
        f"create {r.status_code}, unapproved account opens a visit: {code}, admin actions counted: {len(acts)}",
    )
    empty = visit(c, reg)
    r = c.get(f"/visits/{empty}/people/{pid}", headers=reg | CARE)
    record("11.6 any known id binds an empty visit", r.status_code == 403, f"{r.status_code}")
    r = c.post(
        "/stats/releases",
        headers=mgr | {"X-Carekey-Purpose": "aggregate_statistics"},
        json={"statistic": "hypertension", "epsilon": 10},
    )
    record("11.7 epsilon 10 single-out", r.status_code == 422, f"{r.status_code}")
    before = len(c.get(f"/visits/{visit(c, reg)}", headers=reg).json())
    r = c.post(
        f"/visits/{visit(c, reg)}/people",
        headers=reg | CARE,
        json={
            "person": {"given_name": "X", "family_name": "Y", "sex": "female", "birth_year": 1990, "card_number": card},
            "consent": {"granted": ["care_record"], "notice_version": "v1", "language": "en"},
        },
    )
    record("11.8 duplicate card 409 (logging: tests/e2e/test_insider.py)", r.status_code == 409, f"{r.status_code}")
    del before
    for p in ("police", "Law-Enforcement", "ｐｏｌｉｃｅ"):
        c.get(f"/visits/{empty}/people/{pid}", headers=reg | {"X-Carekey-Purpose": p.encode()})
    refusals = {x["purpose"] for x in c.get("/transparency/refusals").json()}
    record(
        "11.9 disguised police counted as other", "law_enforcement" in refusals, f"counted purposes: {sorted(refusals)}"
    )

    # -- issue 14 -------------------------------------------------------------------------------------------
    stats = mgr | {"X-Carekey-Purpose": "aggregate_statistics"}
    r = c.post("/stats/releases", headers=stats, json={"statistic": "hypertension", "epsilon": 5e-324})
    record("14.7 epsilon 5e-324", r.status_code == 422, f"{r.status_code} {r.headers.get('content-type')}")

    rss0 = rss_kib(a.pid)
    big = b'{"username": "' + b"a" * (40 * 1024 * 1024) + b'", "password": "x"}'
    codes = []
    for _ in range(3):
        try:
            codes.append(c.post("/auth/token", content=big, headers={"Content-Type": "application/json"}).status_code)
        except httpx.HTTPError as err:  # the server may close the connection after its 413
            codes.append(type(err).__name__)
    time.sleep(1)
    grown = (rss_kib(a.pid) - rss0) // 1024
    record("14.5a 3 x 40 MB usernames", all(x == 413 for x in codes) and grown < 50, f"{codes}, RSS +{grown} MB")
    v = visit(c, reg)
    body = b'{"name": "' + b"b" * (20 * 1024 * 1024) + b'", "birth_year": 1980}'
    t0 = time.perf_counter()
    try:
        code = c.post(f"/visits/{v}/lookup", content=body, headers=reg | CARE | {"Content-Type": "application/json"})
        code = code.status_code
    except httpx.HTTPError as err:
        code = type(err).__name__
    dt = time.perf_counter() - t0
    record("14.5b 20 MB name in a lookup", code == 413 and dt < 10, f"{code} in {dt:.1f} s (upload included)")

    # limits: with the default server X-Forwarded-For must not reset the per-address limit
    user = "clinician-south"
    seen = [
        c.post(
            "/auth/token",
            json={"username": f"nobody{i}", "password": "wrong"},
            headers={"X-Forwarded-For": f"10.9.{i}.1"},
        ).status_code
        for i in range(12)
    ]
    record("14.4b new X-Forwarded-For resets the address limit", seen[-1] == 429, f"{seen}")
    del user

    p = httpx.Client(base_url=a.proxied_url, timeout=120)  # trusts 127.0.0.1: X-Forwarded-For plays addresses
    xff = iter(f"10.20.{i // 250}.{i % 250 + 1}" for i in range(10_000))
    seen = [
        p.post(
            "/patient/token", json={"card_number": card, "pin": "000000"}, headers={"X-Forwarded-For": next(xff)}
        ).status_code
        for _ in range(10)
    ]
    r = p.post(
        "/patient/token",
        json={"card_number": card[0] + "-" + card[1:], "pin": pin},
        headers={"X-Forwarded-For": next(xff)},
    )
    record(
        "14.4a PIN limit keyed on raw card text",
        r.status_code == 429,
        f"10 wrong PINs on {card}: {sorted(set(seen))}; right PIN on {card[0]}-{card[1:]}: {r.status_code}",
    )
    seen = [
        p.post(
            "/auth/token", json={"username": n, "password": "wrong"}, headers={"X-Forwarded-For": next(xff)}
        ).status_code
        for n in ["Auditor"] * 5 + [" auditor "] * 5
    ]
    r = p.post(
        "/auth/token", json={"username": "AUDITOR", "password": pw["auditor"]}, headers={"X-Forwarded-For": next(xff)}
    )
    record(
        "14.4a' username case/space variants", r.status_code == 429, f"{sorted(set(seen))}; then right: {r.status_code}"
    )

    def guess(i: int) -> int:
        with httpx.Client(base_url=a.proxied_url, timeout=120) as g:
            return g.post(
                "/auth/token",
                json={"username": "registrar-south", "password": f"guess{i}"},
                headers={"X-Forwarded-For": f"10.30.0.{i + 1}"},
            ).status_code

    with cf.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(guess, range(20)))
    passed = sum(1 for x in answers if x != 429)
    record("14.4c 20 parallel guesses", passed <= 10, f"{passed} of 20 checked (limit 10): {sorted(answers)}")

    def login(_: int) -> int:
        with httpx.Client(base_url=a.url, timeout=300) as g:
            return g.post(
                "/auth/token", json={"username": "clinician-north", "password": pw["clinician-north"]}
            ).status_code

    with cf.ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(login, range(64)))
    record(
        "14.9 64 logins at 32 clients: no 500", 500 not in answers, f"{ {x: answers.count(x) for x in set(answers)} }"
    )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(RESULTS, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
