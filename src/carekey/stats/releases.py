"""The statistics a program manager may ask for, and the *flat* release by district x sex x age band.

The service releases hierarchically (``carekey.stats.hierarchy``: total, district, district x sex, district x
age band, consistent); this flat release is what carekey did before, kept as the baseline of ``carekey bench
stats`` and as the building block of its outcomes.

One release = one OpenDP count-by-categories measurement over every (cell, outcome) pair, where a cell is
(district, sex, age band) and the outcome is the band of the statistic (or ``unknown`` when the measure
is missing). Each person is in exactly one pair, so the release costs its epsilon once for everybody.
Shares (prevalence of hypertension, distribution of BMI / glucose bands / blood types within a cell)
are ratios of noisy counts over the known outcomes, with a conservative interval (see
``mechanisms.share_interval``). Nothing is suppressed: small noisy cells are released as noisy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum

from carekey.errors import InvalidInput
from carekey.stats import records as r
from carekey.stats.budget import PrivacyLedger
from carekey.stats.mechanisms import NoisyCount, noisy_counts, privacy_cost, share_interval


class Statistic(StrEnum):
    COUNT = "count"  # people screened per cell
    HYPERTENSION = "hypertension"  # systolic >= 140 or diastolic >= 90; share of "yes" = prevalence
    BMI = "bmi_bands"
    BLOOD_TYPE = "blood_types"
    GLUCOSE = "glucose_bands"


_OUTCOMES: dict[Statistic, tuple[tuple[str, ...], Callable[[r.ScreeningRecord], str]]] = {
    Statistic.COUNT: (("screened",), lambda x: "screened"),
    Statistic.HYPERTENSION: (r.HYPERTENSION, lambda x: r.hypertension(x.systolic, x.diastolic)),
    Statistic.BMI: (r.BMI_BANDS, lambda x: r.bmi_band(x.weight_kg, x.height_cm)),
    Statistic.BLOOD_TYPE: (r.BLOOD_TYPES, lambda x: r.blood_type(x.blood_type)),
    Statistic.GLUCOSE: (r.GLUCOSE_BANDS, lambda x: r.glucose_band(x.fasting_glucose_mmol)),
}
_SEP = "\x1f"


@dataclass(frozen=True)
class Figure:
    district: str
    sex: str
    age_band: str
    outcome: str
    count: NoisyCount
    share: float | None = None  # among known outcomes of the cell; None for plain counts / unknown
    share_low: float | None = None
    share_high: float | None = None


@dataclass(frozen=True)
class Release:
    statistic: Statistic
    epsilon: float
    alpha: float
    scale: float
    count_half_width: int
    figures: list[Figure]

    def to_dict(self) -> dict[str, object]:
        rows = []
        for f in self.figures:
            row = asdict(f)
            row["count"] = {
                "noisy": f.count.noisy,
                "display": f.count.display,
                "ci95": list(f.count.display_ci),
                "ci95_raw": [f.count.ci_low, f.count.ci_high],
            }
            rows.append(row)
        return {
            "statistic": str(self.statistic),
            "epsilon": self.epsilon,
            "confidence": 1 - self.alpha,
            "noise": f"discrete Laplace, scale {self.scale:g}",
            "figures": rows,
        }


def outcomes(statistic: Statistic) -> tuple[str, ...]:
    known, _ = _OUTCOMES[statistic]
    return known if statistic is Statistic.COUNT else (*known, r.UNKNOWN)


def cells(districts: Sequence[str]) -> list[tuple[str, str, str]]:
    if not districts or len(set(districts)) != len(districts) or r.OTHER_DISTRICT in districts:
        raise InvalidInput("districts must be a non-empty list of distinct names (not 'other')")
    ds = [*districts, r.OTHER_DISTRICT]
    return list(itertools.product(ds, r.SEXES, [b[2] for b in r.AGE_BANDS]))


def categories(statistic: Statistic, districts: Sequence[str]) -> list[str]:
    return [_SEP.join((*cell, o)) for cell in cells(districts) for o in outcomes(statistic)]


def outcome_of(statistic: Statistic, record: r.ScreeningRecord) -> str:
    """The outcome band of ``record`` for ``statistic`` (``unknown`` when the measure is missing)."""
    return _OUTCOMES[statistic][1](record)


def label(statistic: Statistic, record: r.ScreeningRecord, districts: frozenset[str]) -> str:
    district = record.district if record.district in districts else r.OTHER_DISTRICT
    return _SEP.join((district, r.sex_label(record.sex), r.age_band(record.age), outcome_of(statistic, record)))


def cost(statistic: Statistic, districts: Sequence[str], epsilon: float) -> float:
    """Epsilon certified by OpenDP for this release (what the ledger is charged)."""
    return privacy_cost(categories(statistic, districts), epsilon)


def release(
    statistic: Statistic,
    rows: Sequence[r.ScreeningRecord],
    *,
    districts: Sequence[str],
    epsilon: float,
    alpha: float = 0.05,
    before_noise: Callable[[float], object] | None = None,
) -> Release:
    """Compute one release. ``before_noise(epsilon)`` runs after every input is validated and before any
    noise is drawn (``release_and_charge`` uses it to charge the budget): bad input costs no budget."""
    statistic = Statistic(statistic)
    units = [x.unit for x in rows if x.unit is not None]
    if len(set(units)) != len(units):
        raise InvalidInput("a statistics release takes one record per person", field="unit")
    known = frozenset(districts)
    cats = categories(statistic, districts)
    labels = [label(statistic, x, known) for x in rows]
    if before_noise is not None:
        before_noise(privacy_cost(cats, epsilon))
    result = noisy_counts(labels, cats, epsilon, alpha)
    n_out = len(outcomes(statistic))
    figures: list[Figure] = []
    for start in range(0, len(cats), n_out):
        block = result.counts[start : start + n_out]
        names = outcomes(statistic)
        known_block = [c for c, o in zip(block, names, strict=True) if o != r.UNKNOWN]
        for k, (count, outcome) in enumerate(zip(block, names, strict=True)):
            district, sex, band, _ = cats[start + k].split(_SEP)
            if statistic is Statistic.COUNT or outcome == r.UNKNOWN:
                figures.append(Figure(district, sex, band, outcome, count))
            else:
                share, low, high = share_interval(known_block, k, result.scale, alpha)
                figures.append(Figure(district, sex, band, outcome, count, share, low, high))
    return Release(statistic, result.epsilon, alpha, result.scale, result.half_width, figures)


def release_and_charge(
    ledger: PrivacyLedger,
    program: str,
    statistic: Statistic,
    rows: Sequence[r.ScreeningRecord],
    *,
    districts: Sequence[str],
    epsilon: float,
    alpha: float = 0.05,
) -> Release:
    """Charge the program's budget with the OpenDP-certified epsilon, then release.

    Raises BudgetExhausted (nothing computed, nothing charged) when the budget cannot pay."""
    statistic = Statistic(statistic)

    def charge(certified: float) -> None:
        ledger.charge(program, certified, f"{statistic} by district x sex x age band")

    return release(statistic, rows, districts=districts, epsilon=epsilon, alpha=alpha, before_noise=charge)
