"""CPU time of the protected 1:N kernels alone, on random codes (bench/results/service/README.md, "Kernels").

Stage 1 of the iris index (``_search_kernels.sliced_scan``: 512 hashes, 33 rotations) over ``--rows`` rows, and
the fingerprint index's full comparison of a 2,000-finger shortlist (``shortlist_collision_counts`` then
``score_counts_many``), each the median CPU time of ``--repeat`` calls after a warm-up; plus the numpy fallback of
the stage-1 scan on a tenth of the rows as the baseline. Prints a table, writes JSON.

    PYTHONPATH=src .venv/bin/python bench/tools/index_kernels.py --rows 500000 --out kernels.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from carekey.biometrics.protection import _search_kernels as K
from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import fingerprint_index as FI
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection._kernels import shortlist_collision_counts


def cpu_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append((time.process_time() - t0) * 1000)
    return statistics.median(times)


def vector_path() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    flags = next((line for line in lines if line.startswith("flags")), "").split()
    if "avx512f" in flags and "avx512_vpopcntdq" in flags:
        return "avx512-vpopcntdq"
    return "avx2" if "avx2" in flags else "scalar"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--shortlist", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 2**63, (args.rows // K.LANES, 3, 8, K.LANES), dtype=np.uint64)
    rotations = K.bit_planes(rng.integers(0, P.IRIS_Q, (33, 512), dtype=np.uint8), 3)
    few = blocks[: max(1, len(blocks) // 10)]
    fingers = rng.integers(0, P.FP_Q, (args.shortlist, P.FP_ROWS, P.FP_HASHES), dtype=np.uint8)
    packed = np.ascontiguousarray(FI.pack(fingers)).view("<u8")
    probe = FI._words(FI.pack(rng.integers(0, P.FP_Q, (P.FP_ROWS, P.FP_HASHES), dtype=np.uint8)))
    slots = np.arange(args.shortlist)
    counts = shortlist_collision_counts(probe, packed, slots)
    report = {
        "rows": args.rows,
        "shortlist": args.shortlist,
        "cpu": platform.processor() or platform.machine(),
        "vector_path": vector_path(),
        "compiled": K.library() is not None,
        "iris_stage1_ms": round(cpu_ms(lambda: K.sliced_scan(blocks, rotations), args.repeat), 1),
        "iris_stage1_numpy_ms_per_tenth": round(cpu_ms(lambda: K._sliced_numpy(few, rotations), 1), 1),
        "fp_collision_counts_ms": round(
            cpu_ms(lambda: shortlist_collision_counts(probe, packed, slots), args.repeat), 1
        ),
        "fp_score_ms": round(cpu_ms(lambda: pfp.score_counts_many(counts, P.FP_HASHES), args.repeat), 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    report["iris_stage1_us_per_row"] = round(report["iris_stage1_ms"] * 1000 / args.rows, 3)
    report["numpy_over_compiled"] = round(report["iris_stage1_numpy_ms_per_tenth"] * 10 / report["iris_stage1_ms"], 1)
    width = max(map(len, report))
    for k, v in report.items():
        print(f"{k:<{width}}  {v}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
