"""Server-rendered SVG bar charts with error bars (approximate 95 % intervals) for hierarchical DP releases.

Only layout arithmetic here: the figures and their intervals come from the statistics service untouched.
Laid out for a phone: the chart is 340 units wide (about the width of a phone screen, so one unit is about
one CSS pixel there), each bar gets its own row with the group's name and value written *above* it in 14-unit
text, so labels stay >= 12 px on a 320 px screen and never squeeze the bars. The template draws from these
coordinates (SVG attributes, no inline style: the CSP forbids it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WIDTH = 340
ROW = 44  # px per bar: a 16 px text line, the bar, spacing
TOP = 8
BAR_Y = 20  # bar offset within its row (below the label line)
BAR_H = 14


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    low: float
    high: float
    y: int
    width: float
    err_x1: float
    err_x2: float
    text: str
    merged: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    bars: list[Bar]
    height: int
    width: int
    ticks: list[tuple[float, str, str]]  # x, label, text-anchor (the end ticks stay inside the chart)
    note: str = ""


def _fmt(value: float, share: bool) -> str:
    return f"{value * 100:.0f}%" if share else f"{value:.0f}"


def bar_chart(title: str, rows: list[tuple[str, float, float, float, bool]], share: bool, note: str = "") -> Chart:
    """``rows`` = (label, value, interval low, interval high, merged); shares are fractions in [0, 1]."""
    finite = [max(v, hi) for _, v, _, hi, _ in rows if math.isfinite(v) and math.isfinite(hi)]
    top = 1.0 if share else max([1.0, *finite])
    scale = (WIDTH - 2) / top

    def x(v: float) -> float:
        return 1 + max(0.0, min(v, top)) * scale

    bars = []
    for i, (label, value, low, high, merged) in enumerate(rows):
        y = TOP + i * ROW
        if not all(math.isfinite(v) for v in (value, low, high)):
            bars.append(Bar(label, 0.0, 0.0, 0.0, y, 0.0, 1, 1, "no estimate", merged))
            continue
        bars.append(
            Bar(
                label,
                value,
                low,
                high,
                y,
                max(0.0, x(value) - 1),
                x(low),
                x(high),
                f"{_fmt(value, share)} ({_fmt(low, share)}–{_fmt(high, share)})",
                merged,
            )
        )
    height = TOP + len(rows) * ROW + 22
    ticks = [
        (x(top * k / 4), _fmt(top * k / 4, share), ("start", "middle", "middle", "middle", "end")[k]) for k in range(5)
    ]
    return Chart(title, "share" if share else "people", bars, height, WIDTH, ticks, note)


def _row(f: Mapping[str, Any], share: bool, outcome: str | None) -> tuple[str, float, float, float, bool] | None:
    label = str(f["sex"] or f["age_band"] or f["label"])
    if f["merged"]:
        label = f"merged: {', '.join(str(m) for m in f['merged'])}"
    if share:
        if f.get("share") is None:
            return None
        lo, hi = f["share_ci95"]
        return label, float(f["share"]), float(lo), float(hi), bool(f["merged"])
    lo, hi = f["count_ci95"]
    return label, float(f["count"]), float(lo), float(hi), bool(f["merged"])


def release_charts(release: Mapping[str, Any], outcome: str | None, breakdown: str = "district") -> list[Chart]:
    """The total, the districts, and (``breakdown`` = ``district_sex`` or ``district_age``) one chart per district.

    Counts for ``count``; otherwise the share of ``outcome`` among the known outcomes, with its interval.
    Merged groups are drawn as such; groups too small even merged are named in the chart's note."""
    statistic = str(release["statistic"])
    share = statistic != "count"
    figures = [f for f in release["figures"] if isinstance(f, dict)]
    hidden = [h for h in release.get("hidden", []) if isinstance(h, dict)]
    what = f"share {outcome.replace('_', ' ')}" if share and outcome else "people screened"
    period = str(release.get("period_label") or release.get("period") or "")

    def note(level: str, parent: str | None = None) -> str:
        n = sum(int(h["cells"]) for h in hidden if h["level"] == level and (parent is None or h["parent"] == parent))
        min_cell = release.get("min_cell", 10)
        return f"{n} group(s) under {min_cell} people not shown alone (counted in the figure above)." if n else ""

    def rows(pred) -> list[tuple[str, float, float, float, bool]]:
        out = [_row(f, share, outcome) for f in figures if pred(f)]
        return [r for r in out if r is not None]

    charts = [
        bar_chart(f"All districts, {period}: {what}", rows(lambda f: f["level"] == "total"), share),
        bar_chart(f"By district: {what}", rows(lambda f: f["level"] == "district"), share, note("district")),
    ]
    if breakdown in ("district_sex", "district_age"):
        by = "sex" if breakdown == "district_sex" else "age band"
        for d in [f for f in figures if f["level"] == "district" and not f["merged"]]:
            r = rows(lambda f, d=d: f["level"] == breakdown and f["district"] == d["district"])
            n = note(breakdown, str(d["label"]))
            if r or n:
                charts.append(bar_chart(f"{d['label']} by {by}: {what}", r, share, n))
    return charts
