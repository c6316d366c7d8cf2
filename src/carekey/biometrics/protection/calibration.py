"""What a protected comparison score means to a health worker: a calibrated 0-100 score.

A raw score (fingerprint 1 - exp(-LSS / scale), iris collision rate) says little on its own: a true fingerprint
match at 0.93 used to be shown as "match 1/100". The calibrated score is the false-match rate (FMR) of that score,
i.e. the share of comparisons with *another* person's template that score at least as high, on a log scale:

    calibrated = 100 * min(1, -log10 FMR(score) / DECADES),   DECADES = 6

so 0 = any stranger scores this high, 50 = one stranger in 1,000, 67 = one in 10,000, 100 = one in a million or
rarer. The decision thresholds (``parameters.FP_THRESHOLD`` / ``IRIS_THRESHOLD``) show as about 39 (fingerprint:
FMR 0.4 % over the four FVC sets pooled, 0.1 % on DB1/DB2 where it was set) and 51 (iris); a true match typically
shows 70-100. It is monotonic in the raw score (a property test checks it), so ranking and threshold are unchanged.

Where FMR(score) comes from: the impostor score histograms of the protected matcher (same key, bins of 0.05) that
``carekey bench protection`` committed in ``bench/results/protection/`` (fingerprint: FVC2002 DB1_B..DB4_B,
2,880 impostor pairs each; iris: MMU1, 100,125 pairs). ``derive`` averages the per-set survival functions (each
set weighs the same, no per-set constant), keeps its non-zero points, and extends the tail beyond the last
observed impostor by a least-squares line in log10 FMR over the upper tail (an exponential tail, the shape of
binomial impostor distributions: Daugman, "How iris recognition works", IEEE TCSVT 14(1), 2004). ``KNOTS`` are
its output; ``tests/unit/test_score_calibration.py`` re-derives them from the committed files, so a new bench run
that changes the distributions fails the test until the knots are regenerated (``python -m
carekey.biometrics.protection.calibration bench/results/protection``). Known limits: bins of 0.05 are coarse
(the iris tail rests on two points), and a fused score of several positions is read on the single-position curve
(conservative: fusing lowers the FMR of a given mean).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

DECADES = 6.0  # FMR 1e-6 and rarer show as 100
TAIL_SURVIVAL = 0.1  # the tail fit uses the points where at most this share of impostors remains

# (raw score, log10 FMR) knots per modality, from ``derive`` on bench/results/protection (see the docstring)
KNOTS: dict[str, tuple[tuple[float, float], ...]] = {
    "fingerprint": (
        (0.25, -0.00045263),
        (0.3, -0.005005),
        (0.35, -0.027105),
        (0.4, -0.090548),
        (0.45, -0.22824),
        (0.5, -0.47475),
        (0.55, -0.82846),
        (0.6, -1.2958),
        (0.65, -1.844),
        (0.7, -2.3625),
        (0.75, -2.9823),
        (0.8, -4.0615),
        (0.956, -6.0),
    ),
    "iris": ((0.15, -0.080153), (0.2, -3.0763), (0.2488, -6.0)),
}


def derive(histograms: Sequence[tuple[Sequence[float], Sequence[int]]]) -> tuple[tuple[float, float], ...]:
    """Knots (score, log10 FMR) from impostor histograms (bin edges, counts) of several data sets."""
    edges = list(histograms[0][0])
    survival = [0.0] * len(edges)
    for hist_edges, counts in histograms:
        if list(hist_edges) != edges:
            raise ValueError("the histograms must share their bin edges")
        total = sum(counts)
        left = total
        for i in range(len(edges)):
            survival[i] += (left / total) / len(histograms)  # share of impostors scoring >= edges[i]
            if i < len(counts):
                left -= counts[i]
    points = [(e, math.log10(s)) for e, s in zip(edges, survival, strict=True) if 0 < s < 1]
    if len(points) < 2:
        raise ValueError("too few impostor scores above the lowest bin to fit a tail")
    tail = [p for p in points if p[1] <= math.log10(TAIL_SURVIVAL)]
    tail = points[-max(2, len(tail) + 1) :] if len(tail) < len(points) else tail
    n = len(tail)
    mx, my = sum(x for x, _ in tail) / n, sum(y for _, y in tail) / n
    slope = sum((x - mx) * (y - my) for x, y in tail) / sum((x - mx) ** 2 for x, _ in tail)
    if slope >= 0:
        raise ValueError("the impostor tail does not decrease")
    last_x, last_y = points[-1]
    knots = [(round(x, 4), float(f"{y:.5g}")) for x, y in points]
    if last_y > -DECADES:
        knots.append((round(last_x + (-DECADES - last_y) / slope, 4), -DECADES))
    out: list[tuple[float, float]] = []
    for x, y in knots:  # non-increasing (the survival function is, rounding aside)
        out.append((x, min(y, out[-1][1]) if out else y))
    return tuple(out)


def log10_fmr(modality: str, score: float) -> float:
    """Estimated log10 of the false-match rate of a raw score (0 below the first knot, -DECADES past the last)."""
    knots = KNOTS[modality]
    if math.isnan(score) or score < knots[0][0]:
        return 0.0
    for (x0, y0), (x1, y1) in zip(knots, knots[1:], strict=False):
        if score <= x1:
            return y0 + (y1 - y0) * (score - x0) / (x1 - x0)
    return -DECADES


def calibrated(modality: str, score: float) -> float:
    """The 0-100 score shown to the health worker (see the module docstring)."""
    return round(100.0 * min(1.0, max(0.0, -log10_fmr(modality, score)) / DECADES), 1) + 0.0  # never -0.0


def knots_from_results(folder: Path) -> dict[str, tuple[tuple[float, float], ...]]:
    """``derive`` on the committed protection bench results (``<modality>_<set>.json``, protected, same key)."""
    found: dict[str, list[tuple[list[float], list[int]]]] = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        dist = data.get("score_distributions", {}).get("protected_same_key")
        if dist is None or "fuzzy_commitment" in path.stem:  # the deployed matcher only
            continue
        found.setdefault(data["modality"], []).append((dist["impostor"]["edges"], dist["impostor"]["counts"]))
    return {modality: derive(hists) for modality, hists in sorted(found.items())}


if __name__ == "__main__":  # print the knots to paste into KNOTS
    for name, knots in knots_from_results(Path(sys.argv[1])).items():
        print(name, knots)
