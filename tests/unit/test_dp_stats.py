"""Differentially private statistics: noisy, within their stated accuracy, nothing computed on bad input."""

import math
import random
from collections import Counter

import pytest

from carekey.errors import InvalidInput
from carekey.stats import records as r
from carekey.stats.mechanisms import NoisyCount, noisy_counts, privacy_cost
from carekey.stats.releases import Statistic, release

DISTRICTS = ["north", "south"]


def population(n=1200, seed=7):
    rng = random.Random(seed)
    return [
        r.ScreeningRecord(
            district=rng.choice(DISTRICTS + ["elsewhere"]),
            sex=rng.choice(["F", "M", "female", "x"]),
            age=rng.randint(12, 95),
            systolic=rng.randint(95, 185),
            diastolic=rng.randint(55, 115),
            weight_kg=rng.uniform(40, 120),
            height_cm=rng.uniform(145, 195),
            blood_type=rng.choice(["O+", "A+", "B+", "AB-", "o pos", None]),
            fasting_glucose_mmol=rng.choice([None, rng.uniform(3.5, 11)]),
            unit=f"u{i}",
        )
        for i in range(n)
    ]


def test_bands_follow_who_thresholds():
    assert r.bmi_band(53.4, 170) == "underweight" and r.bmi_band(53.5, 170) == "normal"  # 18.47 / 18.51
    assert r.bmi_band(72.2, 170) == "normal" and r.bmi_band(72.3, 170) == "overweight"  # 24.98 / 25.02
    assert r.bmi_band(86.6, 170) == "overweight" and r.bmi_band(86.8, 170) == "obese"
    assert r.glucose_band(6.0) == "normal" and r.glucose_band(6.1) == "impaired_fasting"
    assert r.glucose_band(6.99) == "impaired_fasting" and r.glucose_band(7.0) == "diabetes"
    assert r.hypertension(139, 89) == "no" and r.hypertension(140, 70) == "yes" and r.hypertension(120, 90) == "yes"
    assert r.hypertension(None, None) == r.UNKNOWN and r.hypertension(150, None) == "yes"
    assert r.hypertension(120, None) == r.UNKNOWN
    assert r.blood_type(" ab neg ") == "AB-" and r.blood_type("Z") == r.UNKNOWN
    assert r.age_band(17) == "0-17" and r.age_band(18) == "18-29" and r.age_band(75) == "75+"
    for bad in (lambda: r.bmi_band(-1, 170), lambda: r.glucose_band(float("nan")), lambda: r.age_band(-1)):
        with pytest.raises(InvalidInput):
            bad()


def test_releases_are_noisy_and_cost_their_epsilon():
    rows = population()
    a = release(Statistic.COUNT, rows, districts=DISTRICTS, epsilon=0.5)
    b = release(Statistic.COUNT, rows, districts=DISTRICTS, epsilon=0.5)
    assert [f.count.noisy for f in a.figures] != [f.count.noisy for f in b.figures]
    assert a.epsilon == pytest.approx(0.5) and privacy_cost(["x", "y"], 0.25) == pytest.approx(0.25)
    assert len(a.figures) == 3 * 3 * 6  # (2 districts + other) x 3 sexes x 6 age bands, none suppressed


def test_count_intervals_cover_the_truth_about_95_percent():
    rows = population(600)
    truth = Counter(label_cell(x) for x in rows)
    hits = total = 0
    for _ in range(250):
        rel = release(Statistic.COUNT, rows, districts=DISTRICTS, epsilon=0.5)
        for f in rel.figures:
            true = truth[(f.district, f.sex, f.age_band)]
            hits += f.count.ci_low <= true <= f.count.ci_high
            total += 1
    coverage = hits / total
    assert 0.93 <= coverage <= 0.995, coverage  # nominal 95 %; much higher would mean useless intervals


def label_cell(x):
    district = x.district if x.district in DISTRICTS else r.OTHER_DISTRICT
    return district, r.sex_label(x.sex), r.age_band(x.age)


def test_prevalence_intervals_are_conservative():
    rows = population(2000, seed=3)
    yes = Counter(label_cell(x) for x in rows if r.hypertension(x.systolic, x.diastolic) == "yes")
    known = Counter(label_cell(x) for x in rows if r.hypertension(x.systolic, x.diastolic) != r.UNKNOWN)
    hits = total = 0
    for _ in range(120):
        rel = release(Statistic.HYPERTENSION, rows, districts=DISTRICTS, epsilon=1.0)
        for f in rel.figures:
            cell = (f.district, f.sex, f.age_band)
            if f.outcome != "yes" or known[cell] == 0:
                continue
            assert 0.0 <= f.share_low <= f.share_high <= 1.0
            hits += f.share_low <= yes[cell] / known[cell] <= f.share_high
            total += 1
    assert total > 1000 and hits / total >= 0.95


def test_smaller_epsilon_means_more_noise():
    labels = ["a"] * 50 + ["b"] * 5
    err = {eps: [] for eps in (2.0, 0.2)}
    for eps in err:
        for _ in range(300):
            out = noisy_counts(labels, ["a", "b", "c"], eps)
            err[eps] += [abs(out.counts[0].noisy - 50), abs(out.counts[2].noisy)]
    assert sum(err[0.2]) / len(err[0.2]) > 4 * sum(err[2.0]) / len(err[2.0])


def test_negative_counts_are_clamped_for_display_only():
    c = NoisyCount(-3, -9, 3)
    assert c.display == 0 and c.noisy == -3 and c.display_ci == (0, 3)
    rel = release(Statistic.BLOOD_TYPE, population(300), districts=DISTRICTS, epsilon=0.2)
    assert any(f.count.noisy < 0 for f in rel.figures)  # tiny cells with noise go negative...
    assert all(f.count.display >= 0 for f in rel.figures)  # ...and are shown as 0, never dropped
    d = rel.to_dict()
    assert d["epsilon"] == pytest.approx(0.2) and len(d["figures"]) == len(rel.figures)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epsilon": 0},
        {"epsilon": -1},
        {"epsilon": math.inf},
        {"epsilon": math.nan},
        {"districts": []},
        {"districts": ["a", "a"]},
        {"districts": ["other"]},
        {"alpha": 1.5},
    ],
)
def test_bad_parameters_are_refused(kwargs):
    args = {"districts": DISTRICTS, "epsilon": 1.0} | kwargs
    with pytest.raises(InvalidInput):
        release(Statistic.COUNT, population(20), **args)


def test_one_record_per_person():
    rows = population(10)
    with pytest.raises(InvalidInput):
        release(Statistic.COUNT, rows + rows[:1], districts=DISTRICTS, epsilon=1.0)
    with pytest.raises(ValueError):
        release("rows", rows, districts=DISTRICTS, epsilon=1.0)
    with pytest.raises(InvalidInput):
        noisy_counts(["zzz"], ["a"], 1.0)
