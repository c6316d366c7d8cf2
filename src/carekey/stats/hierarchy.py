"""Hierarchical releases that add up: program total, district, district x sex, district x age band.

Measurement (OpenDP, nothing by hand): each level is one ``make_count_by_categories >> then_laplace``
measurement over (node, outcome) pairs (``mechanisms.count_measurement``); every person is in exactly one
pair per level, so a level costs its epsilon once for everybody, and the four levels read the same people
(sequential composition: the release costs the sum, each term as OpenDP's privacy map certifies it). The
release's epsilon is split across levels (``DEFAULT_SPLIT``, most of it on the district level, which a program
acts on first).

Post-processing (free of privacy cost: it reads only the noisy measurements), in the spirit of the US Census
Bureau's TopDown algorithm (Abowd, Ashmead, Cumings-Menon, Garfinkel, Heineck, Heiss, Johns, Kifer, Leclerc,
Machanavajjhala, Moran, Sexton, Spence, Zhuravlev, "The 2020 Census Disclosure Avoidance System TopDown
Algorithm", Harvard Data Science Review, 2022) and of Hay, Rastogi, Miklau and Suciu, "Boosting the accuracy of
differentially private histograms through consistency" (PVLDB 2010):

1. *Weighted least squares over the whole tree* (per outcome): the estimate closest to the measurements, each
   weighted by the inverse of its noise variance, among all vectors where every parent equals the sum of its
   children (total = sum of districts; district = sum of its sexes = sum of its age bands). Closed form
   ``x = y - V A^T (A V A^T)^-1 A y`` for constraints ``A x = 0``; its covariance gives each estimate's
   standard error. Every level borrows strength from the others: this is what makes a district figure more
   accurate than summing 18 independently noisy cells (the flat release).
2. *Top-down non-negative integers*: the total is rounded (>= 0); then, level by level, the children of each
   fixed parent are projected onto {x >= 0, sum x = parent} (weighted least squares, solved by bisection on the
   Lagrange multiplier) and rounded by controlled rounding (floors, then the missing units to the largest
   fractional parts), so every released figure is a non-negative integer and children sum exactly to their
   parent, as in TopDown (which solves the same two steps as optimization problems per geographic level).

Small cells (fewer than ``min_cell`` people in the post-processed figure, an interval reaching 0, or a
least-squares count within ``Z_SHOW`` standard errors of 0: the cell may be empty)
are never shown on their own: the small children of one parent are pooled into one "merged"
cell, and a pool still too small is not shown at all (its people stay in the parent's figure). Deciding on
noisy figures is post-processing too: it costs no privacy and invents nothing (a category with no one in it
comes out at or near 0 and is merged).

Intervals are approximate 95 % intervals of the least-squares estimate (normal approximation with its exact
variance; rounding and the non-negativity step are ignored), labelled as such in every output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import opendp.prelude as dp

from carekey.errors import InvalidInput
from carekey.stats import records as r
from carekey.stats.consistency import least_squares, top_down
from carekey.stats.mechanisms import check_epsilon, count_measurement
from carekey.stats.releases import Statistic, outcome_of, outcomes
from carekey.stats.tree import Level, Node, key_of, tree

#: Share of the release's epsilon spent on each level (sums to 1). Most on the district level: the figure a
#: program acts on first, and the one that anchors the least-squares estimate of the whole tree; the total needs
#: little (it also gets the sum of every district). Chosen with ``carekey bench stats`` (bench/results/stats/README.md):
#: district and total errors 2.4-2.8x below the flat release's, for district x sex / x age band cells 1.1-1.5x
#: above it (the price of a consistent tree; splits that tie the flat release there leave the district at ~2x).
DEFAULT_SPLIT: Mapping[Level, float] = {
    Level.TOTAL: 0.05,
    Level.DISTRICT: 0.5,
    Level.DISTRICT_SEX: 0.2,
    Level.DISTRICT_AGE: 0.25,
}
MERGED = "merged"


def check_split(split: Mapping[Level, float]) -> dict[Level, float]:
    out = {Level(k): float(v) for k, v in split.items()}
    if (
        set(out) != set(Level)
        or any(not math.isfinite(v) or v <= 0 for v in out.values())
        or abs(math.fsum(out.values()) - 1) > 1e-9
    ):
        raise InvalidInput("the epsilon split must give every level a positive share, summing to 1", field="split")
    return out


def discrete_laplace_variance(scale: float) -> float:
    """Variance of the discrete Laplace distribution of scale ``scale`` (t = exp(-1/scale)): 2t / (1 - t)^2."""
    t = math.exp(-1.0 / scale)
    return 2 * t / (1 - t) ** 2


# -- 1. measurement -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    nodes: list[Node]
    outcomes: tuple[str, ...]
    noisy: np.ndarray  # nodes x outcomes, raw OpenDP outputs (may be negative)
    variance: np.ndarray  # per node, of each of its noisy counts
    epsilon: float  # sum of the OpenDP-certified epsilons of the levels
    level_epsilon: dict[Level, float]


def cell_of(statistic: Statistic, record: r.ScreeningRecord, districts: frozenset[str]) -> tuple[str, str, str, str]:
    district = record.district if record.district in districts else r.OTHER_DISTRICT
    return district, r.sex_label(record.sex), r.age_band(record.age), outcome_of(statistic, record)


def measurements(
    statistic: Statistic, districts: Sequence[str], epsilon: float, split: Mapping[Level, float]
) -> dict[Level, tuple[list[str], dp.Measurement]]:
    """The OpenDP measurement of each level and its categories (``node key <US> outcome``)."""
    nodes, outs = tree(districts), outcomes(statistic)
    out: dict[Level, tuple[list[str], dp.Measurement]] = {}
    for level, share in check_split(split).items():
        cats = [f"{n.key}\x1f{o}" for n in nodes if n.level is level for o in outs]
        out[level] = (cats, count_measurement(cats, epsilon * share))
    return out


def certified_cost(
    statistic: Statistic, districts: Sequence[str], epsilon: float, split: Mapping[Level, float] = DEFAULT_SPLIT
) -> float:
    """Sum over levels of the epsilon OpenDP certifies for one person (what the ledger is charged)."""
    check_epsilon(epsilon)
    return math.fsum(float(m.map(1)) for _, m in measurements(statistic, districts, epsilon, split).values())


def measure(
    statistic: Statistic,
    rows: Sequence[r.ScreeningRecord],
    districts: Sequence[str],
    epsilon: float,
    split: Mapping[Level, float] = DEFAULT_SPLIT,
    before_noise: Callable[[float], object] | None = None,
) -> Measurement:
    statistic, epsilon = Statistic(statistic), check_epsilon(epsilon)
    units = [x.unit for x in rows if x.unit is not None]
    if len(set(units)) != len(units):
        raise InvalidInput("a statistics release takes one record per person", field="unit")
    split = check_split(split)
    nodes, outs = tree(districts), outcomes(statistic)
    known = frozenset(districts)
    cells = [cell_of(statistic, x, known) for x in rows]
    meas = measurements(statistic, districts, epsilon, split)
    level_eps = {level: float(m.map(1)) for level, (_, m) in meas.items()}
    total_eps = math.fsum(level_eps.values())
    if before_noise is not None:
        before_noise(total_eps)  # charge the budget: everything is validated, no noise drawn yet
    index = {n: i for i, n in enumerate(nodes)}
    noisy = np.zeros((len(nodes), len(outs)))
    variance = np.zeros(len(nodes))
    for level, (cats, m) in meas.items():
        labels = [f"{key_of(level, d, s, a)}\x1f{o}" for d, s, a, o in cells]
        values = m(labels)  # the noise draw, by OpenDP
        by_key = {n.key: n for n in nodes if n.level is level}
        for cat, v in zip(cats, values, strict=True):
            key, o = cat.split("\x1f")
            noisy[index[by_key[key]], outs.index(o)] = v
        for n in nodes:
            if n.level is level:
                variance[index[n]] = discrete_laplace_variance(1.0 / (epsilon * split[level]))
    return Measurement(nodes, outs, noisy, variance, total_eps, level_eps)


# -- 2. consistent estimates: ``carekey.stats.consistency`` (least squares, then top-down integers) -----


# -- 3. the release: figures with intervals, small cells merged -------------------------------------------


@dataclass(frozen=True)
class Figure:
    level: Level
    label: str
    district: str | None
    sex: str | None
    age_band: str | None
    counts: dict[str, int]  # per outcome, consistent non-negative integers
    count: int  # people in the cell (sum over outcomes)
    count_ci: tuple[int, int]
    share: float | None = None  # of the first outcome among known outcomes (prevalence), None for counts
    share_ci: tuple[float, float] | None = None
    merged: tuple[str, ...] = ()  # the groups pooled into this one (sexes, age bands or districts); () if none


@dataclass(frozen=True)
class Hidden:
    level: Level
    parent: str
    cells: int  # how many small cells are not shown (their people are in the parent's figure)


@dataclass
class HierarchicalRelease:
    statistic: Statistic
    epsilon: float
    level_epsilon: dict[Level, float]
    alpha: float
    min_cell: int
    outcomes: tuple[str, ...]
    figures: list[Figure] = field(default_factory=list)
    hidden: list[Hidden] = field(default_factory=list)

    def level(self, level: Level) -> list[Figure]:
        return [f for f in self.figures if f.level is level]

    @property
    def notes(self) -> list[str]:
        out = [
            f"Approximate {1 - self.alpha:.0%} intervals. Figures add up: districts to the total, sexes and "
            "age bands to their district."
        ]
        n_merged = sum(len(f.merged) for f in self.figures)
        n_hidden = sum(h.cells for h in self.hidden)
        if n_merged or n_hidden:
            parts = ([f"{n_merged} shown together as 'merged' bars"] if n_merged else []) + (
                [f"{n_hidden} not shown (their people are counted in their district or the total)"] if n_hidden else []
            )
            out.append(
                f"Groups under {self.min_cell} people, or that may be empty, are never shown alone: "
                f"{' and '.join(parts)}."
            )
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "statistic": str(self.statistic),
            "method": "hierarchical",
            "epsilon": self.epsilon,
            "level_epsilon": {str(k): v for k, v in self.level_epsilon.items()},
            "confidence": 1 - self.alpha,
            "min_cell": self.min_cell,
            "outcomes": list(self.outcomes),
            "noise": "discrete Laplace (OpenDP) per level, weighted least squares, top-down rounding",
            "figures": [figure_dict(f) for f in self.figures],
            "hidden": [{"level": str(h.level), "parent": h.parent, "cells": h.cells} for h in self.hidden],
            "notes": self.notes,
        }


def figure_dict(f: Figure) -> dict[str, object]:
    return {
        "level": str(f.level),
        "label": f.label,
        "district": f.district,
        "sex": f.sex,
        "age_band": f.age_band,
        "counts": dict(f.counts),
        "count": f.count,
        "count_ci95": list(f.count_ci),
        "share": f.share,
        "share_ci95": None if f.share_ci is None else list(f.share_ci),
        "merged": list(f.merged),
    }


def _figure(
    statistic: Statistic,
    level: Level,
    label: str,
    node: Node | None,
    outs: tuple[str, ...],
    counts: np.ndarray,
    sd: np.ndarray,
    alpha: float,
    merged: tuple[str, ...] = (),
) -> Figure:
    """``counts`` per outcome (integers), ``sd`` per outcome (std error of the least-squares estimate)."""
    z = NormalDist().inv_cdf(1 - alpha / 2)
    n = int(counts.sum())
    half = z * math.sqrt(float((sd**2).sum()))
    ci = (max(0, math.floor(n - half)), math.ceil(n + half))
    share = share_ci = None
    if statistic is not Statistic.COUNT:
        known = [i for i, o in enumerate(outs) if o != r.UNKNOWN]
        k = int(counts[known].sum())
        if k > 0:
            zb = NormalDist().inv_cdf(1 - alpha / 4)  # two counts, each at 1 - alpha/2 (Bonferroni)
            c, rest = float(counts[known[0]]), float(k - counts[known[0]])
            hc = zb * float(sd[known[0]])
            hr = zb * math.sqrt(float((sd[known[1:]] ** 2).sum()))
            c_lo, c_hi, r_lo, r_hi = max(c - hc, 0), c + hc, max(rest - hr, 0), rest + hr
            share = c / k
            share_ci = (
                c_lo / (c_lo + r_hi) if c_lo + r_hi > 0 else 0.0,
                c_hi / (c_hi + r_lo) if c_hi + r_lo > 0 else 1.0,
            )
    district = node.district if node else None
    return Figure(
        level,
        label,
        district,
        node.sex if node else None,
        node.age_band if node else None,
        {o: int(v) for o, v in zip(outs, counts, strict=True)},
        n,
        ci,
        share,
        share_ci,
        merged,
    )


def size(statistic: Statistic, outs: tuple[str, ...], counts: np.ndarray) -> int:
    """The people a figure stands on: the count, or the known outcomes for a share."""
    if statistic is Statistic.COUNT:
        return int(counts.sum())
    return int(sum(int(c) for o, c in zip(outs, counts, strict=True) if o != r.UNKNOWN))


def hierarchical_release(
    statistic: Statistic,
    rows: Sequence[r.ScreeningRecord],
    *,
    districts: Sequence[str],
    epsilon: float,
    split: Mapping[Level, float] = DEFAULT_SPLIT,
    min_cell: int = 10,
    alpha: float = 0.05,
    before_noise: Callable[[float], object] | None = None,
) -> HierarchicalRelease:
    """Measure (OpenDP), make consistent (least squares, top-down rounding), merge small cells."""
    statistic = Statistic(statistic)
    if not 0 < alpha < 1:
        raise InvalidInput("alpha must be in (0, 1)", field="alpha")
    if not isinstance(min_cell, int) or min_cell < 0:
        raise InvalidInput("the minimum cell size must be a non-negative integer", field="min_cell")
    m = measure(statistic, rows, districts, epsilon, split, before_noise)
    est, sd = least_squares(m)
    ints = top_down(m.nodes, est, m.variance)
    return publish(statistic, m, ints, sd, min_cell, alpha, est)


#: A group is shown alone only if its least-squares count is this many standard errors above 0 (one-sided
#: 2.3e-4 chance for an empty group): the rounded, non-negative figures are biased up for empty groups
#: (negative noise is cut at 0, positive noise kept), so the test is made on the unbiased estimate.
Z_SHOW = 3.5


def publish(
    statistic: Statistic,
    m: Measurement,
    ints: np.ndarray,
    sd: np.ndarray,
    min_cell: int,
    alpha: float,
    est: np.ndarray | None = None,
) -> HierarchicalRelease:
    nodes, outs = m.nodes, m.outcomes
    index = {n: i for i, n in enumerate(nodes)}
    rel = HierarchicalRelease(statistic, m.epsilon, m.level_epsilon, alpha, min_cell, outs)
    sds = np.repeat(sd[:, None], len(outs), axis=1)
    t = index[Node(Level.TOTAL)]
    rel.figures.append(_figure(statistic, Level.TOTAL, "all districts", nodes[t], outs, ints[t], sds[t], alpha))

    gls = est if est is not None else ints.astype(float)

    def fig(
        level: Level,
        label: str,
        node: Node | None,
        counts: np.ndarray,
        sd: np.ndarray,
        merged: tuple[str, ...] = (),
        unbiased: float = 0.0,
        unbiased_sd: float = 0.0,
    ) -> Figure | None:
        """The figure, or None when it is too small to show alone: under ``min_cell`` people, an interval that
        reaches 0, or a least-squares count within ``Z_SHOW`` standard errors of 0 (the group may well be empty:
        showing it would invent people)."""
        f = _figure(statistic, level, label, node, outs, counts, sd, alpha, merged)
        sure = unbiased - Z_SHOW * unbiased_sd > 0
        return f if size(statistic, outs, counts) >= min_cell and f.count_ci[0] > 0 and sure else None

    def total_of(n: Node) -> tuple[float, float]:
        return float(gls[index[n]].sum()), float(sds[index[n]][0]) * math.sqrt(len(outs))

    def pool(level: Level, parent: str, children: list[Node]) -> list[Node]:
        """Add the figures of ``children`` (small ones merged); return the children shown on their own."""
        big = []
        small = []
        for n in children:
            f = fig(level, n.label, n, ints[index[n]], sds[index[n]], (), *total_of(n))
            if f is not None:
                rel.figures.append(f)
                big.append(n)
            elif ints[index[n]].sum() > 0:
                small.append(n)
        if small:
            counts = sum((ints[index[n]] for n in small), np.zeros(len(outs), dtype=int))
            spread = np.sqrt(sum((sds[index[n]] ** 2 for n in small), np.zeros(len(outs))))
            anchor = Node(level, small[0].district) if level is not Level.DISTRICT else None
            pooled = sum(total_of(n)[0] for n in small), math.sqrt(sum(total_of(n)[1] ** 2 for n in small))
            f = (
                fig(
                    level,
                    f"{parent}: {MERGED} ({len(small)} groups)",
                    anchor,
                    counts,
                    spread,
                    tuple(n.part for n in small),
                    *pooled,
                )
                if len(small) > 1
                else None
            )
            if f is not None:
                rel.figures.append(f)
            else:
                rel.hidden.append(Hidden(level, parent, len(small)))
        return big

    shown = pool(Level.DISTRICT, "all districts", [n for n in nodes if n.level is Level.DISTRICT])
    for d in shown:
        for level in (Level.DISTRICT_SEX, Level.DISTRICT_AGE):
            pool(level, d.label, [n for n in nodes if n.level is level and n.district == d.district])
    return rel
