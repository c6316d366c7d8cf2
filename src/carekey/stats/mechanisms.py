"""Differentially private counts over a fixed list of public categories, with OpenDP.

Why OpenDP (not diffprivlib): its integer mechanisms sample exact discrete Laplace noise (Canonne,
Kamath and Steinke 2020), immune to the floating-point attacks of Mironov (2012), and every measurement
carries a proven privacy map.

Mechanism: ``make_count_by_categories`` (each person falls in exactly one category, so adding or
removing one person changes the count vector by 1 in L1 norm) chained with ``then_laplace`` on
integers, i.e. discrete Laplace noise of scale 1/epsilon per cell. The epsilon charged is the one the
OpenDP privacy map reports for one person (d_in = 1), not our own arithmetic.

Confidence intervals: OpenDP's ``discrete_laplacian_scale_to_accuracy(scale, alpha)`` gives ``a`` with
P[|noise| >= a] = alpha; noise is an integer, so [noisy - floor(a), noisy + floor(a)] contains the true
count with probability >= 1 - alpha. They cover the noise of the mechanism, not sampling error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import opendp.prelude as dp

from carekey.errors import InvalidInput

dp.enable_features("contrib")


@dataclass(frozen=True)
class NoisyCount:
    """One released count. ``noisy`` is the raw mechanism output (may be negative, kept for honest
    downstream sums); ``display`` clamps it at 0 (post-processing, costs no privacy)."""

    noisy: int
    ci_low: int
    ci_high: int

    @property
    def display(self) -> int:
        return max(self.noisy, 0)

    @property
    def display_ci(self) -> tuple[int, int]:
        return max(self.ci_low, 0), max(self.ci_high, 0)


@dataclass(frozen=True)
class CountRelease:
    counts: list[NoisyCount]  # aligned with the categories passed in
    epsilon: float  # from OpenDP's privacy map, for one person added or removed
    scale: float
    half_width: int  # of the (1 - alpha) interval of each count
    alpha: float


MIN_EPSILON = 0.01  # below this one release is pure noise (Laplace scale > 100 per cell) and 1/epsilon overflows
MAX_EPSILON = 10.0  # one release never spends more than the default total budget


def check_epsilon(epsilon: float) -> float:
    """The epsilon of one release: a finite number in [MIN_EPSILON, MAX_EPSILON] (else InvalidInput, 422)."""
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, int | float)
        or not math.isfinite(epsilon)
        or not MIN_EPSILON <= epsilon <= MAX_EPSILON
    ):
        raise InvalidInput(
            f"epsilon must be a number from {MIN_EPSILON} to {MAX_EPSILON:g} (got {epsilon!r})", field="epsilon"
        )
    return float(epsilon)


def count_measurement(categories: Sequence[str], epsilon: float) -> dp.Measurement:
    """OpenDP measurement: list of category labels (one per person) -> noisy count per category."""
    if len(set(categories)) != len(categories) or not categories:
        raise InvalidInput("categories must be a non-empty list of distinct labels")
    space = (dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance())
    counts = dp.t.make_count_by_categories(*space, categories=list(categories), null_category=False)
    # ``epsilon`` may be one level's share of a release (hierarchy.py): only finite and positive is required here;
    # the range of a whole release is checked by ``check_epsilon`` where a release is asked for
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, int | float)
        or not math.isfinite(epsilon)
        or not 0 < epsilon <= MAX_EPSILON
    ):
        raise InvalidInput(
            f"epsilon must be a positive number up to {MAX_EPSILON:g} (got {epsilon!r})", field="epsilon"
        )
    return counts >> dp.m.then_laplace(scale=1.0 / epsilon)


def interval_half_width(scale: float, alpha: float) -> int:
    if not 0 < alpha < 1:
        raise InvalidInput("alpha must be in (0, 1)", field="alpha")
    return math.floor(dp.discrete_laplacian_scale_to_accuracy(scale, alpha))


def privacy_cost(categories: Sequence[str], epsilon: float) -> float:
    """The epsilon OpenDP certifies for one release over these categories (one row per person)."""
    return float(count_measurement(categories, epsilon).map(1))


def noisy_counts(labels: Sequence[str], categories: Sequence[str], epsilon: float, alpha: float = 0.05) -> CountRelease:
    """Release a noisy count of each category. Every label must be one of the categories."""
    unknown = set(labels) - set(categories)
    if unknown:
        raise InvalidInput(f"{len(unknown)} label(s) are not among the public categories")
    meas = count_measurement(categories, epsilon)
    scale = 1.0 / epsilon
    half = interval_half_width(scale, alpha)
    raw = meas(list(labels))
    counts = [NoisyCount(int(v), int(v) - half, int(v) + half) for v in raw]
    return CountRelease(counts, float(meas.map(1)), scale, half, alpha)


def share_interval(counts: Sequence[NoisyCount], index: int, scale: float, alpha: float) -> tuple[float, float, float]:
    """Share of category ``index`` among ``counts`` (noisy ratio) and a conservative (1 - alpha) interval.

    Each of the m counts gets a (1 - alpha/m) interval (Bonferroni, so all hold together with probability
    >= 1 - alpha); the share c / (c + rest) grows with c and falls with rest, so its interval is bounded by
    the extreme corners. Returns (estimate, low, high), all in [0, 1]; estimate is NaN when nothing is left.
    """
    m = len(counts)
    half = interval_half_width(scale, alpha / m)
    c = max(counts[index].noisy, 0)
    rest = sum(max(x.noisy, 0) for i, x in enumerate(counts) if i != index)
    estimate = c / (c + rest) if c + rest > 0 else math.nan
    c_lo, c_hi = max(counts[index].noisy - half, 0), max(counts[index].noisy + half, 0)
    others = [x.noisy for i, x in enumerate(counts) if i != index]
    r_lo = sum(max(v - half, 0) for v in others)  # true counts are >= 0
    r_hi = sum(max(v + half, 0) for v in others)
    low = c_lo / (c_lo + r_hi) if c_lo + r_hi > 0 else 0.0
    high = c_hi / (c_hi + r_lo) if c_hi + r_lo > 0 else 1.0
    return estimate, low, high
