"""1:N search on the protected form next to the unprotected index, same gallery, same run.

The galleries are those of the unprotected search benchmarks (``bench.fingerprint.search_benchmark``:
FVC2002 DB1_B / DB2_B fingers and chimera templates from DB3_B / DB4_B; ``bench.iris.search_benchmark``:
MMU1 eyes and random codes under real masks), each template indexed twice: unprotected, and protected
under a fresh program secret. Every query searches both; reported per form: median / p95 ms, top-1 hit
rate, and for the protected index the top-1 agreement with the exhaustive protected search on the first
EXHAUSTIVE_CHECKS queries, the share of queries whose mate outscores the index's top-1 (on every query: a
hit lost by the index, not by the protected comparison), and the top-1 hit rate of the same probes
protected under another program's secret (unlinkability in search: should be 0). Timings are wall
clock of one thread on a shared host.
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from carekey.biometrics.iris.templates import IrisTemplate
from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import iris as piris
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection._search_kernels import library
from carekey.biometrics.protection.fingerprint_index import ProtectedFingerprintIndex
from carekey.biometrics.protection.iris_index import ProtectedIrisIndex, stage1_hashes

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]
EXHAUSTIVE_CHECKS = 5


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t0) * 1000


def _summary(times: list[float], hits: int, n: int) -> dict[str, float]:
    return {
        "ms_median": statistics.median(times),
        "ms_p95": float(np.percentile(times, 95)),
        "top1_hit_rate": hits / n if n else float("nan"),
    }


def _report(
    modality: str,
    gallery: int,
    queries: list,
    unprot: dict,
    prot: dict,
    agree: list[bool],
    other_key_hits: int,
    lost: int,
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "modality": modality,
        "gallery": gallery,
        "queries": len(queries),
        "unprotected": unprot,
        "protected": prot,
        "ratio_median": prot["ms_median"] / unprot["ms_median"],
        "ratio_p95": prot["ms_p95"] / unprot["ms_p95"],
        "top1_agreement_with_exhaustive_protected": sum(agree) / len(agree) if agree else None,
        "exhaustive_checks": len(agree),
        # every query: the mate scores higher than the index's top-1, so the exhaustive protected search
        # would not have returned that top-1 (the index, not the protected comparison, lost the hit)
        "top1_lost_by_index": lost / len(queries) if queries else None,
        "top1_hit_rate_probe_under_other_key": other_key_hits / len(queries) if queries else None,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_cores": os.cpu_count(),
        **extra,
    }


def fingerprint(gallery: int, queries: int, progress: Progress) -> dict[str, Any]:
    from carekey.bench import synthetic_fingers as syn
    from carekey.bench.fingerprint_data import shared_fingerprints
    from carekey.biometrics.fingerprint import matcher
    from carekey.biometrics.fingerprint.index import FingerprintIndex

    secret, other = secrets.token_bytes(P.SECRET_BYTES), secrets.token_bytes(P.SECRET_BYTES)
    matcher.warm_up()
    real = syn.load_real(shared_fingerprints() / "fvc2002", progress)
    enrolled, probes, sources = syn.split(real, queries)
    plain, protected = FingerprintIndex(fingers=1), ProtectedFingerprintIndex(secret, capacity=gallery)
    mates = {key: pfp.protect(template, secret) for key, template in enrolled.items()}
    for key, template in enrolled.items():
        plain.add(key, [template])
        protected.add(key, mates[key])
    rng = np.random.default_rng(7)
    synthetic = max(0, gallery - len(enrolled))
    for n in progress(range(synthetic), "synthetic gallery (chimera, protected)", synthetic):
        template = syn.chimera(sources, rng)
        plain.add(f"synthetic-{n}", [template])
        protected.add(f"synthetic-{n}", pfp.protect(template, secret))
    plain.search([probes[0][1]])  # warm-up (compiles the scans)
    protected.search(pfp.protect(probes[0][1], secret))
    t_u, t_p, hits_u, hits_p, agree, other_hits, lost = [], [], 0, 0, [], 0, 0
    for q, (key, probe) in enumerate(progress(probes, "search", len(probes))):
        found, ms = _timed(lambda: plain.search([probe], top=5))  # noqa: B023 - called at once
        t_u.append(ms)
        hits_u += bool(found) and found[0].key == key
        p = pfp.protect(probe, secret)
        best, ms = _timed(lambda: protected.search(p, top=5))  # noqa: B023
        t_p.append(ms)
        hits_p += bool(best) and best[0].key == key
        lost += pfp.compare(p, mates[key]) > best[0].score
        if q < EXHAUSTIVE_CHECKS:
            exact = protected.search(p, top=1, shortlist=len(protected))
            agree.append(exact[0].key == best[0].key)
        found = protected.search(pfp.protect(probe, other), top=1)
        other_hits += found[0].key == key and found[0].score >= P.FP_THRESHOLD
    return _report(
        "fingerprint",
        len(protected),
        probes,
        _summary(t_u, hits_u, len(probes)),
        _summary(t_p, hits_p, len(probes)),
        agree,
        other_hits,
        lost,
        {
            "gallery_real": len(enrolled),
            "gallery_synthetic": synthetic,
            "shortlist_unprotected": max(200, round(0.02 * len(plain))),
            "shortlist_protected": protected.shortlist_size(len(protected)),
            "prefilter": f"{P.FP_INDEX_BANDS} bands of {P.FP_INDEX_BAND} IoM values per code row, "
            "exact set of (band, value) pairs read from the packed codes",
            "protected_mb": round(protected.nbytes / 2**20, 1),
        },
    )


def _protect_rows(rows: np.ndarray, secret: bytes) -> np.ndarray:
    """Enrolled protected codes of packed iris rows (n, 64): ``iris.protect`` in batches."""
    key = piris.key_for(secret)
    return key.hash(piris.code_vectors(rows[:, :32], rows[:, 32:]))


def iris(gallery: int, queries: int, progress: Progress) -> dict[str, Any]:
    from carekey.bench.iris import _real_templates, _synthetic_rows
    from carekey.biometrics.iris import index

    secret, other = secrets.token_bytes(P.SECRET_BYTES), secrets.token_bytes(P.SECRET_BYTES)
    rng = np.random.default_rng(5)
    eyes = _real_templates(progress)
    enrolled = {eye: ts[0] for eye, ts in eyes.items() if len(ts) >= 2}
    probes = [(eye, t) for eye, ts in eyes.items() if eye in enrolled for t in ts[1:]]
    probes = [probes[i] for i in rng.permutation(len(probes))[:queries]]
    keys = [f"mmu1:{eye}" for eye in enrolled][:gallery]
    plain, protected = index.IrisGallery(capacity=gallery), ProtectedIrisIndex(capacity=gallery)
    plain.add_rows(keys, np.stack([enrolled[k.split(":", 1)[1]].words() for k in keys]))
    mates = {k: piris.protect(enrolled[k.split(":", 1)[1]], secret) for k in keys}
    protected.add(keys, np.stack([mates[k] for k in keys]))
    masks = np.stack([t.mask for ts in eyes.values() for t in ts])
    synthetic, batch = gallery - len(keys), 8192
    batches = range(0, synthetic, batch)
    for lo in progress(batches, "synthetic gallery (random codes, protected)", len(batches)):
        n = min(batch, synthetic - lo)
        rows = _synthetic_rows(n, masks, rng)
        names = [f"syn:{lo + i}" for i in range(n)]
        plain.add_rows(names, rows)
        codes = _protect_rows(rows, secret)
        if lo == 0:  # the batched path must be iris.protect itself
            first = IrisTemplate(rows[0, :32].view(np.uint8).copy(), rows[0, 32:].view(np.uint8).copy())
            assert np.array_equal(codes[0], piris.protect(first, secret)), "batched protection drifted"
        protected.add(names, codes)
    t_u, t_p, hits_u, hits_p, agree, other_hits, lost = [], [], 0, 0, [], 0, 0
    protected.search(piris.protect_probe(probes[0][1], secret), top=1)  # warm-up (kernels)
    for q, (eye, probe) in enumerate(progress(probes, "search", len(probes))):
        found, ms = _timed(lambda: plain.search(probe, top=1))  # noqa: B023 - called at once
        t_u.append(ms)
        hits_u += bool(found) and found[0].key == f"mmu1:{eye}"
        p = piris.protect_probe(probe, secret)
        best, ms = _timed(lambda: protected.search(p, top=1))  # noqa: B023
        t_p.append(ms)
        hits_p += bool(best) and best[0].key == f"mmu1:{eye}"
        lost += piris.compare(p, mates[f"mmu1:{eye}"]) > best[0].score
        if q < EXHAUSTIVE_CHECKS:
            agree.append(protected.search(p, top=1, exhaustive=True)[0].key == best[0].key)
        found = protected.search(piris.protect_probe(probe, other), top=1)
        other_hits += found[0].key == f"mmu1:{eye}" and found[0].score >= P.IRIS_THRESHOLD
    return _report(
        "iris",
        len(protected),
        probes,
        _summary(t_u, hits_u, len(probes)),
        _summary(t_p, hits_p, len(probes)),
        agree,
        other_hits,
        lost,
        {
            "gallery_real": len(keys),
            "gallery_synthetic": synthetic,
            "kernel": "c" if library() is not None else "numpy",
            "stage1": f"{stage1_hashes()} of {P.IRIS_HASHES} hashes, every {P.IRIS_INDEX_SHIFT_STEP}. "
            f"of {probes and len(piris.protect_probe(probes[0][1], secret))} rotations; "
            f"{P.IRIS_INDEX_SHORTLIST} rows scored in full",
            "protected_mb": round(protected.nbytes / 2**20, 1),
            "unprotected_mb": round(plain.nbytes / 2**20, 1),
        },
    )


BENCHMARKS = {"fingerprint": fingerprint, "iris": iris}


def table(report: dict[str, Any]) -> str:
    u, p = report["unprotected"], report["protected"]
    lines = [
        f"{report['modality']} 1:N search, gallery {report['gallery']:,}, {report['queries']} queries",
        f"{'':22}{'unprotected':>14}{'protected':>14}{'ratio':>8}",
        f"{'median ms':22}{u['ms_median']:>14.1f}{p['ms_median']:>14.1f}{report['ratio_median']:>8.2f}",
        f"{'p95 ms':22}{u['ms_p95']:>14.1f}{p['ms_p95']:>14.1f}{report['ratio_p95']:>8.2f}",
        f"{'top-1 hit rate':22}{u['top1_hit_rate']:>14.3f}{p['top1_hit_rate']:>14.3f}",
    ]
    agree, other = report["top1_agreement_with_exhaustive_protected"], report["top1_hit_rate_probe_under_other_key"]
    if agree is not None:
        lines.append(
            f"protected top-1 = exhaustive protected top-1: {agree:.2f} ({report['exhaustive_checks']} queries)"
        )
    lines.append(f"mate outscores the index's top-1 (hit lost by the index): {report['top1_lost_by_index']:.3f}")
    lines.append(f"probe protected under another program's key found: {other:.3f}")
    return "\n".join(lines)
