"""Gallery start-up alone: make (once) a data folder of N synthetic people of one modality (random protected codes
under the program secret, bulk-inserted as ``bench service`` does, plus a few real people for the start-up key
check), then time ``matcher.build()`` of a restarted app, optionally under cProfile.

    nice -n 19 .venv/bin/python bench/tools/gallery_startup.py fingerprint 5000 /tmp/fp5k [URL] [--profile] [--again]

``--again`` builds a second time in the same process (a fresh app): the per-template cost without the fixed one
of the first build (loading the cached numba kernels). Prints wall and CPU seconds: on the shared machine, under
``nice -n 19``, the wall time is mostly waiting for a core, the CPU time is the work.

Run it again on the same folder to time another build (e.g. older code on PYTHONPATH for a same-data comparison).
"""

from __future__ import annotations

import cProfile
import pstats
import resource
import sys
import time
from pathlib import Path

import numpy as np

from carekey import bootstrap
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.templates import ProtectedTemplate, dump
from carekey.config import Settings
from carekey.interfaces.cli import bench_service as B
from carekey.storage.keychecks import SAMPLE


def main() -> None:
    modality, n, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    url = sys.argv[4] if len(sys.argv) > 4 and not sys.argv[4].startswith("--") else None
    settings = Settings(data_dir=folder, database_url=url, argon2_time_cost=1, argon2_memory_kib=64)
    if not (folder / "done").exists():
        bootstrap.initialize(settings)
        app = bootstrap.build(settings)
        matcher = B._protected(app.services)
        registrar, _ = B._world(app.services)
        for i in range(SAMPLE + 4):  # real people, newest: the restart's key check opens a sample of them
            B._enroll_person(app.services, registrar, i, {}, modality)
        rng = np.random.default_rng(1)
        rows, hashes, q = (
            (P.FP_ROWS, P.FP_HASHES, P.FP_Q) if modality == "fingerprint" else (1, P.IRIS_HASHES, P.IRIS_Q)
        )

        def make(k: int) -> list[bytes]:
            return [
                dump(
                    ProtectedTemplate(modality, 1, rng.integers(0, q, (rows, hashes), dtype=np.uint8)), matcher._secret
                )
                for _ in range(k)
            ]

        positions = ("left_index", "right_index") if modality == "fingerprint" else ("left", "right")
        B._bulk(app.database, modality, positions, n, matcher.key_version, make, lambda items, label, total: items)
        app.close()
        (folder / "done").write_text("ok")
    for round_ in range(2 if "--again" in sys.argv else 1):
        _timed(settings, modality, round_)


def _timed(settings: Settings, modality: str, round_: int) -> None:
    """One restart's ``matcher.build()``; round 1 (``--again``) in the same process: the kernels are loaded, so
    the difference from round 0 is the fixed cost a process pays once (numba's cached kernels, imports)."""
    app = bootstrap.build(settings)
    matcher = B._protected(app.services)
    profile = cProfile.Profile() if "--profile" in sys.argv else None
    t0, c0 = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    count = matcher.build()
    if profile:
        profile.disable()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"round={round_} {modality} templates={count} startup_s={seconds:.2f} cpu_s={cpu:.2f} "
        f"per_1k={seconds / count * 1000:.3f}s "
        f"bytes/template={matcher.gallery.nbytes(modality) / count:.0f} rss_mb={rss:.0f}"
    )
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    app.close()


if __name__ == "__main__":
    main()
