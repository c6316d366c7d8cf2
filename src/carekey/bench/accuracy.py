"""Accuracy benchmark: every unordered genuine and impostor pair of a folder of images.

Dataset layout: ``<identity>_<sample>.<ext>``, identity = everything before the last underscore.
An image that fails to enroll still takes part: each of its comparisons scores the modality's
worst value, so rejecting hard images cannot hide errors; it is counted in ``failure_to_enroll``.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from carekey.bench import metrics
from carekey.errors import CarekeyError

IMAGE_SUFFIXES = {".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg"}


class AccuracyModality(Protocol):
    """What a modality provides to the benchmark. Scores are similarities in [0, 1]."""

    name: str
    worst_score: float

    def extract(self, path: Path) -> Any:
        """Template from an image file; raise a CarekeyError (e.g. CaptureRejected) to refuse it."""

    def compare(self, a: Any, b: Any) -> float: ...


@dataclass(frozen=True)
class Sample:
    path: Path
    identity: str


@dataclass
class AccuracyResult:
    modality: str
    dataset: str
    images: int
    identities: int
    failure_to_enroll: int
    genuine: np.ndarray = field(repr=False)
    impostor: np.ndarray = field(repr=False)
    extract_ms_median: float
    compare_per_s: float
    failures: list[str] = field(default_factory=list)
    templates: list[Any] = field(default_factory=list, repr=False)
    extract_times_ms: list[float] = field(default_factory=list, repr=False)

    def report(self) -> dict[str, Any]:
        curve = metrics.error_curve(self.genuine, self.impostor)
        return {
            "modality": self.modality,
            "dataset": self.dataset,
            "images": self.images,
            "identities": self.identities,
            "failure_to_enroll": self.failure_to_enroll,
            "genuine_pairs": int(self.genuine.size),
            "impostor_pairs": int(self.impostor.size),
            "eer": metrics.equal_error_rate(curve),
            "fnmr_at_fmr_1pct": metrics.fnmr_at_fmr(curve, 0.01),
            "fnmr_at_fmr_0_1pct": metrics.fnmr_at_fmr(curve, 0.001),
            "extract_ms_median": self.extract_ms_median,
            "compare_per_s": self.compare_per_s,
            "threshold_at_fmr_1pct": metrics.threshold_at_fmr(curve, 0.01),
            "threshold_at_fmr_0_1pct": metrics.threshold_at_fmr(curve, 0.001),
            "score_distributions": {
                "genuine": _histogram(self.genuine),
                "impostor": _histogram(self.impostor),
            },
            "failed_images": self.failures,
        }


def load_dataset(folder: Path) -> list[Sample]:
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    samples = [Sample(p, p.stem.rsplit("_", 1)[0]) for p in files if "_" in p.stem]
    if len({s.identity for s in samples}) < 2:
        raise ValueError(f"{folder}: need images of at least two identities named <identity>_<sample>.<ext>")
    return samples


def run(
    modality: AccuracyModality,
    folder: Path,
    progress: Callable[[Iterable[Any], str, int], Iterable[Any]] | None = None,
    reuse: AccuracyResult | None = None,
) -> AccuracyResult:
    """Extract every image, compare every pair. ``reuse``: the result of a system whose extraction is
    the same (e.g. an iris baseline that only compares differently): its templates are taken as they are."""
    samples = load_dataset(folder)
    track = progress or (lambda it, _label, _n: it)
    templates: list[Any] = []
    times: list[float] = []
    failures: list[str] = []
    if reuse is not None:
        if len(reuse.templates) != len(samples):
            raise ValueError("the reused result is of another data set")
        templates, times, failures = list(reuse.templates), list(reuse.extract_times_ms), list(reuse.failures)
    for sample in track(samples if reuse is None else [], f"extract {modality.name}", len(samples)):
        t0 = time.perf_counter()
        try:
            templates.append(modality.extract(sample.path))
        except CarekeyError as exc:
            templates.append(None)
            failures.append(f"{sample.path.name}: {exc.message}")
        times.append((time.perf_counter() - t0) * 1000)

    pairs = list(itertools.combinations(range(len(samples)), 2))
    scores = np.empty(len(pairs))
    compare_time, compared = 0.0, 0
    for k, (i, j) in enumerate(track(pairs, f"compare {modality.name}", len(pairs))):
        a, b = templates[i], templates[j]
        if a is None or b is None:
            scores[k] = modality.worst_score
            continue
        t0 = time.perf_counter()
        scores[k] = modality.compare(a, b)
        compare_time += time.perf_counter() - t0
        compared += 1
    same = np.array([samples[i].identity == samples[j].identity for i, j in pairs], dtype=bool)
    return AccuracyResult(
        modality=modality.name,
        dataset=str(folder),
        images=len(samples),
        identities=len({s.identity for s in samples}),
        failure_to_enroll=len(failures),
        genuine=scores[same],
        impostor=scores[~same],
        extract_ms_median=statistics.median(times),
        compare_per_s=compared / compare_time if compare_time > 0 else float("nan"),
        failures=failures,
        templates=templates,
        extract_times_ms=times,
    )


def _histogram(scores: np.ndarray, bins: int = 20) -> dict[str, list[float]]:
    counts, edges = np.histogram(scores, bins=bins, range=(0.0, 1.0))
    return {"edges": [round(float(e), 4) for e in edges], "counts": [int(c) for c in counts]}


def table(rows: dict[str, dict[str, Any]]) -> str:
    """Side-by-side plain-text table of reports (columns = systems)."""
    keys = [
        "images",
        "identities",
        "failure_to_enroll",
        "genuine_pairs",
        "impostor_pairs",
        "eer",
        "fnmr_at_fmr_1pct",
        "fnmr_at_fmr_0_1pct",
        "extract_ms_median",
        "compare_per_s",
    ]
    names = list(rows)
    width = max(12, *(len(n) for n in names))
    lines = ["metric".ljust(20) + "".join(n.rjust(width + 2) for n in names)]
    for key in keys:
        cells = []
        for n in names:
            v = rows[n].get(key)
            if isinstance(v, float):
                cells.append(f"{v * 100:.2f} %" if key.startswith(("eer", "fnmr")) else f"{v:,.1f}")
            else:
                cells.append(str(v))
        lines.append(key.ljust(20) + "".join(c.rjust(width + 2) for c in cells))
    if len(names) == 2 and all(rows[n].get("eer") for n in names):
        ratio = rows[names[0]]["eer"] / rows[names[1]]["eer"]
        lines.append(f"EER ratio {names[0]} / {names[1]}: {ratio:.2f}")
    return "\n".join(lines)
