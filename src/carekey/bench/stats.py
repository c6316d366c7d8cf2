"""``carekey bench stats``: accuracy of the hierarchical release against the flat one, on synthetic programs.

A synthetic program of realistic shape (``synthetic_program``): districts of unequal size (40/30/20/10 % for
four), slightly more women than men and a few people of sex "other", an age pyramid of adults screened more
than children, hypertension prevalence rising with age (about 5 % at 20 to about 55 % at 75, WHO STEPS-like), a
few missing blood pressures. The same people are released ``runs`` times by:

- *flat* (what carekey did before): one OpenDP count over district x sex x age band x outcome at the whole
  epsilon; a coarser figure is the sum of its raw noisy cells (unbiased, no clamping: the fairest flat estimate);
- *hierarchical* (``stats.hierarchy``, what the service releases): the same epsilon split over four levels,
  least squares over the tree, top-down non-negative integers (before small-cell merging, which is display).

Per level (``total``, ``district``, ``district_sex``, ``district_age``): mean absolute error over every (node,
outcome) count, and the relative error of the node's people count (mean over nodes of at least 10 people: the
smaller ones are merged before release) against the true counts. Both methods see the same data and draw all
noise through OpenDP.
"""

from __future__ import annotations

import math
import platform
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from carekey.stats import records as r
from carekey.stats.consistency import least_squares, top_down
from carekey.stats.hierarchy import hierarchical_release, measure
from carekey.stats.releases import Statistic, outcome_of, release
from carekey.stats.tree import Level

SHARES = (0.4, 0.3, 0.2, 0.1)
MIN_PEOPLE = 10  # the default Settings.stats_min_cell


def district_names(n: int) -> list[str]:
    return [f"district-{i + 1}" for i in range(n)]


def synthetic_program(people: int, districts: int = 4, seed: int = 1) -> list[r.ScreeningRecord]:
    rng = random.Random(seed)
    names = district_names(districts)
    weights = list(SHARES) if districts == 4 else [1.0] * districts
    rows = []
    for i in range(people):
        age = rng.choice([rng.randint(5, 17), *[max(18, min(95, round(rng.gauss(45, 17))))] * 6])
        p_high = 1 / (1 + math.exp(-(age - 68) / 10))  # ~5 % at 20, ~33 % at 60, ~55 % at 70
        high = rng.random() < p_high
        missing = rng.random() < 0.03
        systolic = None if missing else (rng.randint(140, 190) if high else rng.randint(95, 139))
        diastolic = None if missing else (rng.randint(90, 110) if high and rng.random() < 0.5 else rng.randint(60, 89))
        rows.append(
            r.ScreeningRecord(
                rng.choices(names, weights)[0],
                rng.choices(["female", "male", "other"], [0.52, 0.475, 0.005])[0],
                age,
                systolic,
                diastolic,
                unit=f"p{i}",
            )
        )
    return rows


def truth(statistic: Statistic, rows: Sequence[r.ScreeningRecord], districts: Sequence[str]) -> Counter:
    """True count of every (level, node key, outcome)."""
    known = set(districts)
    out: Counter = Counter()
    for x in rows:
        d = x.district if x.district in known else r.OTHER_DISTRICT
        s, a, o = r.sex_label(x.sex), r.age_band(x.age), outcome_of(statistic, x)
        for level, key in (
            (Level.TOTAL, "total"),
            (Level.DISTRICT, d),
            (Level.DISTRICT_SEX, f"{d}|{s}"),
            (Level.DISTRICT_AGE, f"{d}|{a}"),
        ):
            out[(level, key, o)] += 1
    return out


def flat_estimates(
    statistic: Statistic, rows: Sequence[r.ScreeningRecord], districts: Sequence[str], epsilon: float
) -> Counter:
    rel = release(statistic, rows, districts=districts, epsilon=epsilon)
    est: Counter = Counter()
    for f in rel.figures:
        for level, key in (
            (Level.TOTAL, "total"),
            (Level.DISTRICT, f.district),
            (Level.DISTRICT_SEX, f"{f.district}|{f.sex}"),
            (Level.DISTRICT_AGE, f"{f.district}|{f.age_band}"),
        ):
            est[(level, key, f.outcome)] += f.count.noisy
    return est


def hierarchical_estimates(
    statistic: Statistic, rows: Sequence[r.ScreeningRecord], districts: Sequence[str], epsilon: float
) -> Counter:
    m = measure(statistic, rows, districts, epsilon)
    est, _ = least_squares(m)
    ints = top_down(m.nodes, est, m.variance)
    out: Counter = Counter()
    for i, node in enumerate(m.nodes):
        for j, o in enumerate(m.outcomes):
            out[(node.level, node.key, o)] = int(ints[i, j])
    return out


def level_errors(
    est: Counter, true: Counter, keys: Sequence[tuple[Level, str, str]]
) -> dict[Level, tuple[float, float]]:
    """(mean absolute error over (node, outcome), mean relative error of the node totals over the nodes with at
    least ``MIN_PEOPLE`` people: smaller groups are merged before release, their relative error is not shown)."""
    out = {}
    for level in Level:
        cells = [k for k in keys if k[0] is level]
        mae = float(np.mean([abs(est[k] - true[k]) for k in cells]))
        nodes = sorted({k[1] for k in cells})
        rel = []
        for node in nodes:
            t = sum(true[k] for k in cells if k[1] == node)
            if t >= MIN_PEOPLE:
                rel.append(abs(sum(est[k] for k in cells if k[1] == node) - t) / t)
        out[level] = (mae, float(np.mean(rel)) if rel else math.nan)
    return out


def run(
    people: int,
    epsilon: float,
    districts: int = 4,
    runs: int = 20,
    seed: int = 1,
    statistic: Statistic = Statistic.HYPERTENSION,
    progress: Callable[[Iterable[int], str, int], Iterable[int]] | None = None,
) -> dict[str, Any]:
    names = district_names(districts)
    rows = synthetic_program(people, districts, seed)
    true = truth(statistic, rows, names)
    from carekey.stats.releases import outcomes
    from carekey.stats.tree import tree

    keys = [(n.level, n.key, o) for n in tree(names) for o in outcomes(statistic)]
    acc: dict[str, dict[Level, list[tuple[float, float]]]] = {
        "flat": {lv: [] for lv in Level},
        "hierarchical": {lv: [] for lv in Level},
    }
    seconds = {"flat": 0.0, "hierarchical": 0.0}
    it = range(runs) if progress is None else progress(range(runs), "stats bench runs", runs)
    for _ in it:
        for name, fn in (("flat", flat_estimates), ("hierarchical", hierarchical_estimates)):
            t0 = time.perf_counter()
            est = fn(statistic, rows, names, epsilon)
            seconds[name] += time.perf_counter() - t0
            for level, pair in level_errors(est, true, keys).items():
                acc[name][level].append(pair)
    levels = {}
    for level in Level:
        flat = np.array(acc["flat"][level])
        hier = np.array(acc["hierarchical"][level])
        levels[str(level)] = {
            "mae_flat": float(flat[:, 0].mean()),
            "mae_hierarchical": float(hier[:, 0].mean()),
            "relative_error_flat": float(flat[:, 1].mean()),
            "relative_error_hierarchical": float(hier[:, 1].mean()),
            "mae_ratio_flat_to_hierarchical": float(flat[:, 0].mean() / hier[:, 0].mean())
            if hier[:, 0].mean() > 0
            else math.inf,
        }
    sizes = Counter(x.district for x in rows)
    district = levels["district"]
    targets = {
        "district_relative_error_le_5pct": district["relative_error_hierarchical"] <= 0.05,
        "total_relative_error_le_1pct": levels["total"]["relative_error_hierarchical"] <= 0.01,
        "district_mae_2x_lower_than_flat": district["mae_ratio_flat_to_hierarchical"] >= 2.0,
    }
    # a release the service would publish, to report how many groups small-cell merging hides at this size
    shown = hierarchical_release(statistic, rows, districts=names, epsilon=epsilon)
    return {
        "people": people,
        "epsilon": epsilon,
        "districts": districts,
        "runs": runs,
        "seed": seed,
        "statistic": str(statistic),
        "district_sizes": dict(sorted(sizes.items())),
        "levels": levels,
        "targets": targets,
        "level_epsilon": {str(k): v for k, v in shown.level_epsilon.items()},
        "example_release": {
            "figures_shown": len(shown.figures),
            "merged_groups": sum(len(f.merged) for f in shown.figures),
            "hidden_groups": sum(h.cells for h in shown.hidden),
        },
        "seconds_per_release": {k: v / runs for k, v in seconds.items()},
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        f"stats bench: {report['people']} people, {report['districts']} districts, epsilon "
        f"{report['epsilon']:g}, {report['statistic']}, {report['runs']} runs",
        f"{'level':<14}{'MAE flat':>10}{'MAE hier.':>11}{'ratio':>7}{'rel.err flat':>14}{'rel.err hier.':>15}",
    ]
    for level, v in report["levels"].items():
        lines.append(
            f"{level:<14}{v['mae_flat']:>10.2f}{v['mae_hierarchical']:>11.2f}"
            f"{v['mae_ratio_flat_to_hierarchical']:>7.2f}{v['relative_error_flat']:>13.2%}"
            f"{v['relative_error_hierarchical']:>15.2%}"
        )
    lines.append("targets: " + ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in report["targets"].items()))
    return "\n".join(lines)


def plot(report: dict[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = report["levels"]
    names = list(levels)
    x = np.arange(len(names))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax.bar(x - 0.2, [levels[n]["mae_flat"] for n in names], 0.4, label="flat (before)")
    ax.bar(x + 0.2, [levels[n]["mae_hierarchical"] for n in names], 0.4, label="hierarchical")
    ax.set_xticks(x, names)
    ax.set_ylabel("mean absolute error (people)")
    ax.legend()
    bx.bar(x - 0.2, [100 * levels[n]["relative_error_flat"] for n in names], 0.4, label="flat (before)")
    bx.bar(x + 0.2, [100 * levels[n]["relative_error_hierarchical"] for n in names], 0.4, label="hierarchical")
    bx.set_xticks(x, names)
    bx.set_ylabel("relative error of the group's count (%)")
    bx.axhline(5, color="grey", lw=0.8, ls="--")
    bx.legend()
    fig.suptitle(
        f"{report['people']} people, {report['districts']} districts, epsilon {report['epsilon']:g} "
        f"({report['statistic']}, {report['runs']} runs)"
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
