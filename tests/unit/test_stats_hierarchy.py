"""Hierarchical releases: consistent (children sum to parents, non-negative integers), accurate where it matters,
small cells merged and never invented; reporting periods; the per-period budget."""

import math
import random
from collections import Counter
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.errors import BudgetExhausted, InvalidInput
from carekey.stats import periods
from carekey.stats import records as r
from carekey.stats.budget import InMemoryBudgetStore, PrivacyLedger
from carekey.stats.consistency import controlled_round, project_children
from carekey.stats.hierarchy import DEFAULT_SPLIT, certified_cost, hierarchical_release
from carekey.stats.releases import Statistic
from carekey.stats.tree import Level

DISTRICTS = ["north", "south", "east", "west"]


def population(n=2000, seed=5, districts=DISTRICTS, sexes=("female", "male")):
    rng = random.Random(seed)
    return [
        r.ScreeningRecord(
            rng.choice(districts),
            rng.choice(sexes),
            rng.randint(1, 95),
            rng.randint(95, 185),
            rng.randint(55, 115),
            unit=f"u{i}",
        )
        for i in range(n)
    ]


def adds_up(rel):
    """Every figure a non-negative integer; districts sum to the total, sexes and ages to their district."""
    total = rel.level(Level.TOTAL)[0]
    districts = rel.level(Level.DISTRICT)
    for f in rel.figures:
        assert all(isinstance(v, int) and v >= 0 for v in f.counts.values()) and f.count == sum(f.counts.values())
    hidden_districts = any(h.level is Level.DISTRICT for h in rel.hidden)
    if not hidden_districts:
        assert sum(d.count for d in districts) == total.count
    for d in (d for d in districts if not d.merged):
        for level in (Level.DISTRICT_SEX, Level.DISTRICT_AGE):
            kids = [f for f in rel.level(level) if f.district == d.district]
            if not any(h.level is level and h.parent == d.label for h in rel.hidden):
                for o in d.counts:
                    assert sum(k.counts[o] for k in kids) == d.counts[o], (level, d.label, o)


def test_release_adds_up_and_costs_its_epsilon():
    rows = population()
    rel = hierarchical_release(Statistic.HYPERTENSION, rows, districts=DISTRICTS, epsilon=1.0)
    adds_up(rel)
    assert rel.epsilon == pytest.approx(1.0) and rel.level_epsilon[Level.DISTRICT] == pytest.approx(0.5)
    assert certified_cost(Statistic.COUNT, DISTRICTS, 0.8) == pytest.approx(0.8)
    total = rel.level(Level.TOTAL)[0]
    assert abs(total.count - len(rows)) <= 30  # total is estimated from every level: tight
    lo, hi = total.share_ci
    assert lo <= total.share <= hi


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 400), st.floats(0.05, 1.0), st.integers(0, 10_000))
def test_consistency_holds_for_any_population_and_epsilon(n, eps, seed):
    rel = hierarchical_release(Statistic.COUNT, population(n, seed), districts=DISTRICTS, epsilon=eps)
    adds_up(rel)


def test_small_cells_are_merged_upward_and_never_invented():
    rows = population(1200, seed=2)  # sex "other" and district "other" have nobody
    rows += [r.ScreeningRecord("north", "other", 40, 150, 95, unit="lonely")]  # one person alone in a cell
    invented = 0
    for _ in range(10):
        rel = hierarchical_release(Statistic.HYPERTENSION, rows, districts=DISTRICTS, epsilon=1.0, min_cell=10)
        adds_up(rel)
        shown = [f for f in rel.figures if not f.merged]
        # the one-person cell and the empty ones (sex other, district other) are not shown alone: each has a
        # 2.3e-4 chance per release to pass the 3.5 standard-error test, so 2 in 10 releases would be a bug
        invented += sum(f.sex == "other" or f.district == r.OTHER_DISTRICT for f in shown)
        assert all(f.level is Level.TOTAL or f.count >= 10 for f in rel.figures)
        assert all(f.level is Level.TOTAL or f.count_ci[0] > 0 for f in rel.figures)
        assert any("never shown alone" in n for n in rel.notes) and rel.hidden
    assert invented <= 1


def test_merged_groups_are_shown_as_one_bar():
    rng = random.Random(9)
    rows = [r.ScreeningRecord("north", "female", rng.choice([30, 50]), 120, 80, unit=f"a{i}") for i in range(400)]
    rows += [
        r.ScreeningRecord("north", "female", age, 120, 80, unit=f"b{age}{i}")
        for age in (5, 20, 65, 80)
        for i in range(5)
    ]  # four age bands of 5 people each: too small alone, 20 together
    rel = hierarchical_release(
        Statistic.COUNT,
        rows,
        districts=["north"],
        epsilon=1.0,
        min_cell=10,
        split={Level.TOTAL: 0.05, Level.DISTRICT: 0.05, Level.DISTRICT_SEX: 0.05, Level.DISTRICT_AGE: 0.85},
    )
    merged = [f for f in rel.level(Level.DISTRICT_AGE) if f.merged]
    assert len(merged) == 1 and set(merged[0].merged) <= {"0-17", "18-29", "60-74", "75+"}
    # the merged bar counts the people of the groups it merged (5 each), up to the noise
    assert abs(merged[0].count - 5 * len(merged[0].merged)) <= 12 and merged[0].label.startswith("north: merged")


def test_hierarchical_beats_flat_at_district_level():
    """The least-squares estimate of a district uses every level: about 2x less error than 18 noisy cells."""
    from carekey.stats.releases import release

    rows = population(3000, seed=4)
    truth = Counter(x.district for x in rows)
    err_h, err_f = [], []
    for _ in range(20):
        h = hierarchical_release(Statistic.COUNT, rows, districts=DISTRICTS, epsilon=1.0)
        f = release(Statistic.COUNT, rows, districts=DISTRICTS, epsilon=1.0)
        for d in DISTRICTS:
            err_h.append(abs(next(x.count for x in h.level(Level.DISTRICT) if x.district == d) - truth[d]))
            err_f.append(abs(sum(x.count.noisy for x in f.figures if x.district == d) - truth[d]))
    assert np.mean(err_h) * 1.5 < np.mean(err_f)


def test_projection_and_rounding_keep_sums():
    x = project_children(np.array([5.2, -3.0, 10.4]), np.ones(3), 12.0)
    assert x.min() >= 0 and x.sum() == pytest.approx(12.0)
    assert list(controlled_round(np.array([0.4, 0.4, 0.2]), 1)) == [1, 0, 0]
    assert controlled_round(np.array([3.5, 2.5, 4.0]), 10).sum() == 10
    assert (project_children(np.array([1.0, 2.0]), np.ones(2), 0.0) == 0).all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epsilon": 0},
        {"epsilon": -1},
        {"epsilon": math.nan},
        {"epsilon": math.inf},
        {"min_cell": -1},
        {"split": {Level.TOTAL: 1.0}},
        {"split": dict(DEFAULT_SPLIT) | {Level.TOTAL: 0.5}},
        {"districts": []},
        {"districts": ["a|female", "a"]},
        {"districts": ["other"]},
        {"alpha": 0},
    ],
)
def test_bad_parameters_are_refused_before_any_noise(kwargs):
    charged = []
    args = {"districts": DISTRICTS, "epsilon": 1.0, "before_noise": charged.append} | kwargs
    with pytest.raises(InvalidInput):
        hierarchical_release(Statistic.COUNT, population(30), **args)
    assert charged == []


@pytest.mark.parametrize(
    "text,pid,start,end",
    [
        ("202611", "202611", date(2026, 11, 1), date(2026, 12, 1)),
        ("2026-11", "202611", date(2026, 11, 1), date(2026, 12, 1)),
        ("2026Q4", "2026Q4", date(2026, 10, 1), date(2027, 1, 1)),
        ("2026-q1", "2026Q1", date(2026, 1, 1), date(2026, 4, 1)),
        ("2026", "2026", date(2026, 1, 1), date(2027, 1, 1)),
        ("202612", "202612", date(2026, 12, 1), date(2027, 1, 1)),
    ],
)
def test_periods_parse_dhis2_and_iso(text, pid, start, end):
    p = periods.parse(text)
    assert (p.id, p.start, p.end) == (pid, start, end)
    assert p.contains(start) and not p.contains(end)
    assert periods.parse(p.iso) == p


@pytest.mark.parametrize("bad", ["", "2026Q5", "202613", "26Q1", "2026-W01", "0000", "2026Q4; drop", "１２３４"])
def test_bad_periods_are_refused(bad):
    with pytest.raises(InvalidInput):
        periods.parse(bad)


def test_open_periods_and_previous():
    opened = [p.id for p in periods.open_periods(date(2026, 1, 15))]
    assert opened == ["202601", "202512", "2026Q1", "2025Q4", "2026", "2025"]


def test_budget_is_per_period_exhausted_in_one_fresh_in_the_next():
    ledger = PrivacyLedger(InMemoryBudgetStore(), limit=1.0)
    ledger.charge("p", 0.6, "x", "2026Q4")
    with pytest.raises(BudgetExhausted):
        ledger.charge("p", 0.6, "x", "2026Q4")
    ledger.charge("p", 0.6, "x", "2027Q1")  # the next period has its own budget
    assert ledger.remaining("p", "2026Q4") == pytest.approx(0.4)
    assert ledger.remaining("p", "2027Q1") == pytest.approx(0.4) and ledger.remaining("q", "2026Q4") == 1.0
