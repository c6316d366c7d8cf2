"""Server-rendered SVG bar charts with error bars (95 % intervals) for differentially private releases.

Only layout arithmetic here: the figures and their intervals come from the statistics service untouched.
The template draws the bars from these coordinates (SVG attributes, no inline style: the CSP forbids it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ROW = 26  # px per bar
LABEL_W = 150
PLOT_W = 420
TOP = 24


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    low: float
    high: float
    y: int
    x0: float
    width: float
    err_x1: float
    err_x2: float
    text: str


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    bars: list[Bar]
    height: int
    width: int
    ticks: list[tuple[float, str]]
    plot_x: int = LABEL_W


def _fmt(value: float, share: bool) -> str:
    return f"{value * 100:.0f}%" if share else f"{value:.0f}"


def bar_chart(title: str, rows: list[tuple[str, float, float, float]], share: bool) -> Chart:
    """``rows`` = (label, value, interval low, interval high); shares are fractions in [0, 1]."""
    finite = [max(v, hi) for _, v, _, hi in rows if math.isfinite(v) and math.isfinite(hi)]
    top = 1.0 if share else max([1.0, *finite])
    scale = PLOT_W / top

    def x(v: float) -> float:
        return LABEL_W + max(0.0, min(v, top)) * scale

    bars = []
    for i, (label, value, low, high) in enumerate(rows):
        y = TOP + i * ROW
        if not all(math.isfinite(v) for v in (value, low, high)):  # a share over no known outcome
            bars.append(Bar(label, 0.0, 0.0, 0.0, y, LABEL_W, 0.0, LABEL_W, LABEL_W, "no estimate"))
            continue
        bars.append(Bar(label, value, low, high, y, LABEL_W, max(0.0, x(value) - LABEL_W), x(low), x(high),
                        f"{_fmt(value, share)} (95% {_fmt(low, share)}–{_fmt(high, share)})"))
    ticks = [(x(top * k / 4), _fmt(top * k / 4, share)) for k in range(5)]
    return Chart(title, "share" if share else "people", bars, TOP + len(rows) * ROW + 24, LABEL_W + PLOT_W + 150,
                 ticks)


def release_charts(release: dict[str, object], outcome: str | None) -> list[Chart]:
    """One chart per district: a bar per (sex, age band) cell. Counts for ``count``; otherwise the share of
    ``outcome`` among the cell's known outcomes, with its interval."""
    statistic = str(release["statistic"])
    figures = [f for f in release["figures"] if isinstance(f, dict)]  # type: ignore[union-attr]
    share = statistic != "count"
    by_district: dict[str, list[tuple[str, float, float, float]]] = {}
    for f in figures:
        if share and f["outcome"] != outcome:
            continue
        label = f"{f['sex']} {f['age_band']}"
        if share:
            if f.get("share") is None:
                continue
            row = (label, float(f["share"]), float(f["share_low"]), float(f["share_high"]))
        else:
            low, high = f["count"]["ci95"]
            row = (label, float(f["count"]["display"]), float(low), float(high))
        by_district.setdefault(str(f["district"]), []).append(row)
    what = f"share {outcome.replace('_', ' ')}" if share and outcome else "people screened"
    return [bar_chart(f"{district}: {what}", rows, share) for district, rows in by_district.items()]
