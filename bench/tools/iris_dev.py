"""Iris development loop: extract a subsample of eyes of each set in 2 processes, print FTE, reasons, EER.

    .venv/bin/python bench/tools/iris_dev.py --split tune --eyes 40
Split (recorded in bench/results/iris/README.md): tune = IITD subjects 001-050 + MMU1 subjects 01-23;
check = IITD 051-100 + MMU1 24-46.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from carekey.bench import metrics
from carekey.biometrics.iris import api
from carekey.errors import CarekeyError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "iris"


def subject(path: Path) -> int:
    return int(path.stem[:3]) if path.stem[:3].isdigit() else int(path.stem[:2])


def pick(name: str, split: str, eyes: int, seed: int) -> list[Path]:
    files = sorted((DATA / name).glob("*.png"))
    cut = 50 if name == "iitd" else 23
    keep = [f for f in files if (subject(f) <= cut) == (split == "tune")] if split != "all" else files
    groups = collections.defaultdict(list)
    for f in keep:
        groups[f.stem.rsplit("_", 1)[0]].append(f)
    ids = sorted(groups)
    if eyes and eyes < len(ids):
        ids = sorted(np.random.default_rng(seed).choice(ids, eyes, replace=False))
    return [f for i in ids for f in groups[i]]


def work(path: Path):
    try:
        return path, api.extract(path.read_bytes()), None
    except CarekeyError as exc:
        return path, None, f"{exc.message}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="tune")
    ap.add_argument("--eyes", type=int, default=40)
    ap.add_argument("--sets", default="mmu1,iitd")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    for name in a.sets.split(","):
        files = pick(name, a.split, a.eyes, a.seed)
        with ProcessPoolExecutor(a.workers) as ex:
            res = list(ex.map(work, files, chunksize=4))
        fails = [(p.name, r) for p, t, r in res if t is None]
        reasons = collections.Counter(r for _, r in fails)
        gen, imp, worst = [], [], []
        for (p1, t1, _), (p2, t2, _) in itertools.combinations(res, 2):
            s = 0.0 if t1 is None or t2 is None else 1 - api.compare(t1, t2)
            mated = p1.stem.rsplit("_", 1)[0] == p2.stem.rsplit("_", 1)[0]
            (gen if mated else imp).append(s)
            if mated and s > 0:
                worst.append((s, p1.stem, p2.stem))
        curve = metrics.error_curve(np.array(gen), np.array(imp))
        eer = metrics.equal_error_rate(curve)
        f1 = metrics.fnmr_at_fmr(curve, 0.01)
        print(f"{name}: {len(files)} imgs, FTE {len(fails)}, EER {100 * eer:.2f} %, FNMR@1% {100 * f1:.2f} %")
        for r, n in reasons.most_common():
            print(f"   {n:4d} x {r}")
        print("   failed:", " ".join(n for n, _ in fails[:30]))
        print("   worst genuine:", " ".join(f"{a}/{b}:{1 - x:.3f}" for x, a, b in sorted(worst)[:12]))
        print("   best impostors HD:", " ".join(f"{1 - x:.3f}" for x in sorted(imp)[-5:]))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
