"""Summarize a ``py-spy record --format raw`` profile (collapsed stacks) of ``carekey serve`` (load_profile.md).

Prints, per function, the share of the CPU samples in which it is on the stack (inclusive) and at the top (self),
and the share of each named part of a request (``PARTS``: the first matching frame, from the top of the stack,
names the part). Run:

    .venv/bin/py-spy record -p <server pid> -d 20 -r 250 --format raw -o stacks.txt
    .venv/bin/python bench/tools/pyspy_summary.py stacks.txt [--top 40]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

# (part, regular expression on a frame "function (file:line)"), matched from the innermost frame outwards
PARTS = [
    ("Ed25519 signing (entry promise, heads)", r"sign_bytes|_sign\b|sign \(carekey/audit"),
    ("AES-GCM / HKDF (person data key, sealing)", r"envelope\.py|records\.py:\d+\)$"),
    ("key store (SQLite file per secret)", r"keystore\.py"),
    ("HMAC blind index", r"blind\.py"),
    ("SQLite/PostgreSQL driver (statement execution, commit)", r"sqlite3|psycopg|do_execute|do_commit|_on_begin"),
    ("SQLAlchemy (statement building, compiling, results)", r"sqlalchemy/"),
    ("pydantic (validation, serialization)", r"pydantic"),
    ("JSON", r"json/"),
    ("logging", r"logging/"),
]


def frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rstrip().rpartition(" ")
    return stack.split(";"), int(count)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("stacks")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--match", default=None, help="only stacks with a frame matching this regular expression")
    a = p.parse_args()
    inclusive: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    total = 0
    compiled = [(name, re.compile(rx)) for name, rx in PARTS]
    with open(a.stacks) as fh:
        for line in fh:
            if not line.strip():
                continue
            stack, n = frames(line)
            if a.match and not any(re.search(a.match, f) for f in stack):
                continue
            total += n
            short = [re.sub(r"\(.*?(site-packages|src|lib/python3\.\d+)/", "(", f) for f in stack]
            for f in set(short):
                inclusive[f] += n
            self_[short[-1]] += n
            for f in reversed(short):
                name = next((nm for nm, rx in compiled if rx.search(f)), None)
                if name:
                    parts[name] += n
                    break
            else:
                parts["other (FastAPI/Starlette, asyncio, carekey code)"] += n
    print(f"{total} samples")
    print("\nparts (innermost matching frame):")
    for name, n in parts.most_common():
        print(f"  {100 * n / total:5.1f} %  {name}")
    print("\ninclusive:")
    for f, n in inclusive.most_common(a.top):
        print(f"  {100 * n / total:5.1f} %  {f}")
    print("\nself:")
    for f, n in self_.most_common(a.top):
        print(f"  {100 * n / total:5.1f} %  {f}")


if __name__ == "__main__":
    main()
