"""Black-box replay of issue 14's hostile-input findings against a real `carekey serve` (a subprocess on a fresh
demo data folder): oversized bodies and server memory, 20 parallel PIN guesses, card-number variants, rotating
X-Forwarded-For, a 20 MB lookup name, epsilon 5e-324, and decompression-bomb PNGs through the web form.

Usage:  .venv/bin/python bench/hostile_input.py [--out bench/results/hostile_input.json]
Prints a table and writes JSON. A report, never a timed test (tests/e2e/test_limits.py asserts the behaviour).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent / "carekey"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bomb_png(side: int, bit_depth: int = 8, palette: bool = True) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(side * bit_depth // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, bit_depth, 3 if palette else 0, 0, 0, 0)
    plte = chunk(b"PLTE", bytes([0, 0, 0, 255, 255, 255])) if palette else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + plte + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert m, "no CSRF field"
    return m.group(1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench/results/hostile_input.json"))
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp()) / "var"
    env = os.environ | {"CAREKEY_ARGON2_TIME_COST": "1", "CAREKEY_ARGON2_MEMORY_KIB": "1024"}
    env.pop("CAREKEY_DATABASE_URL", None)
    subprocess.run([BIN, "init", "--data", data], check=True, env=env, capture_output=True)
    subprocess.run([BIN, "demo", "--data", data, "--people", "10"], check=True, env=env, capture_output=True)
    users = {u: p for u, _, p in (x.split("\t") for x in (data / "demo-users.txt").read_text().splitlines())}
    card, pin = (data / "demo-patients.txt").read_text().split()
    port = free_port()
    server = subprocess.Popen(
        [BIN, "serve", "--data", data, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    rows: list[dict[str, object]] = []
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        c = httpx.Client(base_url=base, timeout=120)

        # 5. three 40 MB usernames
        before = rss_mb(server.pid)
        codes = []
        for _ in range(3):
            body = b'{"username": "' + b"a" * (40 * 1024 * 1024) + b'", "password": "x"}'
            codes.append(c.post("/auth/token", content=body, headers={"Content-Type": "application/json"}).status_code)
        rows.append(
            {
                "probe": "3 x POST /auth/token, 40 MB username",
                "result": f"HTTP {sorted(set(codes))}",
                "rss_before_mb": round(before, 1),
                "rss_after_mb": round(rss_mb(server.pid), 1),
            }
        )

        # 4. 20 parallel wrong PINs on the demo card, each from its own forwarded address
        out: list[int] = []
        barrier = threading.Barrier(20)

        def guess(i: int) -> None:
            barrier.wait()
            wrong = f"{(int(pin) + 1 + i) % 10**6:06d}"
            r = httpx.post(
                f"{base}/patient/token",
                json={"card_number": card, "pin": wrong},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
                timeout=120,
            )
            out.append(r.status_code)

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows.append(
            {
                "probe": "20 parallel wrong PINs, one card",
                "result": f"{out.count(401)} x 401 (checked), {out.count(429)} x 429",
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
        variant = card[0] + "-" + card[1:]
        r = c.post("/patient/token", json={"card_number": variant.lower(), "pin": pin})
        rows.append(
            {
                "probe": f"right PIN with card {variant.lower()!r} after that",
                "result": f"HTTP {r.status_code}, Retry-After {r.headers.get('retry-after')}",
                "detail": r.json().get("detail"),
            }
        )

        # 5. a 20 MB name in a lookup
        c2 = httpx.Client(base_url=base, timeout=120)
        reg = c2.post("/auth/token", json={"username": "registrar-north", "password": users["registrar-north"]})
        auth = {"Authorization": f"Bearer {reg.json()['access_token']}", "X-Carekey-Purpose": "care_record"}
        vid = c2.post("/visits", json={"site_id": "north"}, headers=auth).json()["id"]
        t0 = time.perf_counter()
        r = c2.post(f"/visits/{vid}/lookup", json={"name": "A" * 20_000_000, "birth_year": 1980}, headers=auth)
        rows.append(
            {
                "probe": "lookup with a 20 MB name",
                "result": f"HTTP {r.status_code}",
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )

        # 7. epsilon 5e-324
        mgr = c2.post("/auth/token", json={"username": "manager", "password": users["manager"]}).json()
        r = c2.post(
            "/stats/releases",
            content=b'{"statistic": "count", "epsilon": 5e-324}',
            headers={
                "Authorization": f"Bearer {mgr['access_token']}",
                "Content-Type": "application/json",
                "X-Carekey-Purpose": "aggregate_statistics",
            },
        )
        rows.append({"probe": "stats release, epsilon 5e-324", "result": f"HTTP {r.status_code} {r.json()['title']}"})

        # 6. bombs through the web identify form
        web = httpx.Client(base_url=base, timeout=300)
        token = csrf(web.get("/login").text)
        web.post("/login", data={"csrf": token, "username": "registrar-north", "password": users["registrar-north"]})
        token = csrf(web.get("/").text)
        page = web.post("/visit", data={"csrf": token, "site_id": "north"}, follow_redirects=True)
        wvid = str(page.url).rstrip("/").rsplit("/", 1)[1]
        for name, png in (
            ("15000x15000 palette PNG", bomb_png(15000)),
            ("13000x13000 16-bit PNG", bomb_png(13000, 16, False)),
        ):
            before = rss_mb(server.pid)
            t0 = time.perf_counter()
            r = web.post(
                f"/visit/{wvid}/identify",
                data={"csrf": token, "modality": "fingerprint", "agree": "yes"},
                files={"image": ("bomb.png", png, "image/png")},
            )
            rows.append(
                {
                    "probe": f"web identify, {name} ({len(png) // 1024} KB)",
                    "result": f"HTTP {r.status_code}{' (pixels refused)' if 'pixels' in r.text else ''}",
                    "seconds": round(time.perf_counter() - t0, 2),
                    "rss_before_mb": round(before, 1),
                    "rss_after_mb": round(rss_mb(server.pid), 1),
                }
            )
        # 4. rotating X-Forwarded-For from 127.0.0.1 (no trusted proxy configured); last, as it locks 127.0.0.1
        # for staff logins for the rest of the minute
        xff = [
            c.post(
                "/auth/token",
                json={"username": f"nobody{i}", "password": "wrong"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(12)
        ]
        rows.append({"probe": "12 failed logins, a new X-Forwarded-For each", "result": " ".join(map(str, xff))})

    finally:
        server.terminate()
        server.wait(30)
    width = max(len(str(r["probe"])) for r in rows)
    print(f"{'probe':<{width}}  result")
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in ("probe", "result")}
        print(f"{r['probe']:<{width}}  {r['result']}  {json.dumps(extra) if extra else ''}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "python": sys.version.split()[0]}, indent=2) + "\n")


if __name__ == "__main__":
    main()
