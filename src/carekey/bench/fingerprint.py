"""Fingerprint benchmarks: our pipeline, the NBIS baseline (mindtct + bozorth3), and 1:N search.

Resolution: FVC2002 DB2's untagged 569 dpi images are recognised by size (``sensor_dpi``); every
other image's resolution is what production uses: its own resolution tag, else 500 ppi. Both systems
get the same value.

Quality gate: the accuracy benchmark runs our pipeline with the NFIQ2 gate off (``min_nfiq2=0``),
so every image is compared; every other capture check stays on and failures count as
failure-to-enroll, scoring the minimum against everything.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbis
import numpy as np

from carekey.bench.fingerprint_data import sensor_dpi, shared_fingerprints
from carekey.biometrics.fingerprint import api, capture, matcher
from carekey.biometrics.fingerprint import parameters as P
from carekey.biometrics.fingerprint.index import FingerprintIndex
from carekey.biometrics.fingerprint.templates import FingerprintTemplate
from carekey.errors import CaptureRejected

BOZORTH_HALF = 40.0  # bozorth3 score mapped to s / (s + 40): monotonic, so the ranking is unchanged


@dataclass
class CarekeyFingerprint:
    name: str = "carekey"
    worst_score: float = 0.0

    def extract(self, path: Path) -> FingerprintTemplate:
        return api.extract(Path(path).read_bytes(), dpi=sensor_dpi(path), min_nfiq2=0)

    def compare(self, a: FingerprintTemplate, b: FingerprintTemplate) -> float:
        return api.compare(a, b)


@lru_cache(maxsize=4)
def _nbis_extractor(dpi: float) -> nbis.NbisExtractor:
    settings = nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=False, ppi=dpi
    )
    return nbis.new_nbis_extractor(settings)


@dataclass
class NbisBaseline:
    """NIST NBIS as shipped in nbis-py: mindtct minutiae, bozorth3 scores."""

    name: str = "nbis"
    worst_score: float = 0.0

    def extract(self, path: Path) -> Any:
        try:
            data = Path(path).read_bytes()
            dpi_x, dpi_y, _ = capture.resolution_of(data, sensor_dpi(path))
            return _nbis_extractor((dpi_x + dpi_y) / 2).extract_minutiae(data)
        except nbis.NbisError as exc:
            raise CaptureRejected("NBIS could not read the image", cause=str(exc)) from exc

    def compare(self, a: Any, b: Any) -> float:
        s = float(a.compare(b))
        return s / (s + BOZORTH_HALF)


def modality() -> CarekeyFingerprint:
    matcher.warm_up()  # JIT compilation must not count as comparison time
    return CarekeyFingerprint()


def baseline(name: str) -> NbisBaseline:
    if name != "nbis":
        raise ValueError(f"unknown fingerprint baseline {name!r}; available: nbis")
    return NbisBaseline()


Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]


def search_benchmark(gallery: int, queries: int, progress: Progress | None = None) -> dict[str, Any]:
    """1:N search over ``gallery`` single-finger entries; see ``carekey.bench.synthetic_fingers``."""
    from carekey.bench import synthetic_fingers as syn

    track = progress or (lambda it, _label, _n: it)
    matcher.warm_up()
    real = syn.load_real(shared_fingerprints() / "fvc2002", track)
    enrolled, probes, sources = syn.split(real, queries)
    index = FingerprintIndex(fingers=1)
    for key, template in enrolled.items():
        index.add(key, [template])
    rng = np.random.default_rng(7)
    synthetic = max(0, gallery - len(enrolled))
    for n in track(range(synthetic), "synthetic gallery", synthetic):
        index.add(f"synthetic-{n}", [syn.chimera(sources, rng)])
    index.search([probes[0][1]])  # warm-up (compiles the scan)
    times, hits, hits_accepted, accepted = [], 0, 0, 0
    for key, probe in track(probes, "search", len(probes)):
        t0 = time.perf_counter()
        found = index.search([probe], top=5)
        times.append(time.perf_counter() - t0)
        hit = bool(found) and found[0].key == key
        hits += hit
        if api.compare(probe, enrolled[key]) >= api.THRESHOLD_FMR_0_1PCT:
            accepted += 1
            hits_accepted += hit
    median = statistics.median(times)
    return {
        "modality": "fingerprint",
        "gallery": len(index),
        "queries": len(probes),
        "template_bytes": int(np.mean([len(t.to_bytes()) for t in enrolled.values()])),
        "search_ms_median": median * 1000,
        "comparisons_per_s": len(index) / median,
        "top1_hit_rate": hits_accepted / accepted if accepted else float("nan"),
        "top1_hit_rate_all_queries": hits / len(probes),
        "queries_accepted_1to1": accepted,
        "gallery_real": len(enrolled),
        "gallery_synthetic": synthetic,
        "shortlist": max(P.INDEX_SHORTLIST_MIN, round(P.INDEX_SHORTLIST_SHARE * len(index))),
    }
