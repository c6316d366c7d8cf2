"""Reporting periods: a month, a quarter or a year, named as DHIS2 and ISO 8601 name them.

Accepted spellings (``parse``), all normalized to the DHIS2 period id (``Period.id``):

| kind    | DHIS2 id  | also accepted (ISO 8601 and common forms) |
|---------|-----------|-------------------------------------------|
| month   | ``202611`` | ``2026-11``                              |
| quarter | ``2026Q4`` | ``2026-Q4``                              |
| year    | ``2026``   | -                                        |

A period is the half-open UTC interval ``[start, end)``. A release for a period counts the people whose
latest exam *in the period* falls in it; the privacy budget is kept per program per period id (a month, its
quarter and its year are three periods, each with its own budget: see ``carekey.stats.budget``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from carekey.errors import InvalidInput

_MONTH = re.compile(r"^(\d{4})-?(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
FIRST_YEAR, LAST_YEAR = 1900, 2999


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True, order=True)
class Period:
    start: date  # first day in the period
    end: date  # first day after it
    kind: PeriodKind
    id: str  # DHIS2 period id: 202611, 2026Q4, 2026

    @property
    def iso(self) -> str:
        """ISO 8601 name: 2026-11, 2026-Q4 (common extension), 2026."""
        if self.kind is PeriodKind.MONTH:
            return f"{self.start.year}-{self.start.month:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.start.year}-{self.id[-2:]}"
        return self.id

    @property
    def label(self) -> str:
        names = {
            PeriodKind.MONTH: self.start.strftime("%B %Y"),
            PeriodKind.QUARTER: f"{self.id[-2:]} {self.start.year}",
            PeriodKind.YEAR: f"year {self.id}",
        }
        return names[self.kind]

    def contains(self, moment: datetime | date) -> bool:
        day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
        return self.start <= day < self.end

    def started_by(self, today: date) -> bool:
        return self.start <= today

    def ended_by(self, today: date) -> bool:
        return self.end <= today


def month(year: int, m: int) -> Period:
    _check_year(year)
    end = date(year + 1, 1, 1) if m == 12 else date(year, m + 1, 1)
    return Period(date(year, m, 1), end, PeriodKind.MONTH, f"{year}{m:02d}")


def quarter(year: int, q: int) -> Period:
    _check_year(year)
    start = date(year, 3 * (q - 1) + 1, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return Period(start, end, PeriodKind.QUARTER, f"{year}Q{q}")


def year(y: int) -> Period:
    _check_year(y)
    return Period(date(y, 1, 1), date(y + 1, 1, 1), PeriodKind.YEAR, str(y))


def _check_year(y: int) -> None:
    if not FIRST_YEAR <= y <= LAST_YEAR:
        raise InvalidInput(f"period year {y} is outside {FIRST_YEAR}-{LAST_YEAR}", field="period")


def parse(text: str) -> Period:
    """``202611`` / ``2026-11`` (month), ``2026Q4`` / ``2026-Q4`` (quarter), ``2026`` (year)."""
    value = (text or "").strip().upper()
    if m := _MONTH.match(value):
        return month(int(m[1]), int(m[2]))
    if m := _QUARTER.match(value):
        return quarter(int(m[1]), int(m[2]))
    if m := _YEAR.match(value):
        return year(int(m[1]))
    raise InvalidInput(
        f"unknown reporting period {text!r}: use a month (202611 or 2026-11), a quarter "
        "(2026Q4 or 2026-Q4) or a year (2026)",
        field="period",
    )


def containing(day: date) -> tuple[Period, Period, Period]:
    """The month, quarter and year that contain ``day``."""
    return month(day.year, day.month), quarter(day.year, (day.month - 1) // 3 + 1), year(day.year)


def previous(p: Period) -> Period:
    if p.kind is PeriodKind.MONTH:
        return month(p.start.year - 1, 12) if p.start.month == 1 else month(p.start.year, p.start.month - 1)
    if p.kind is PeriodKind.QUARTER:
        q = int(p.id[-1])
        return quarter(p.start.year - 1, 4) if q == 1 else quarter(p.start.year, q - 1)
    return year(p.start.year - 1)


def open_periods(today: date) -> list[Period]:
    """Periods a manager can report on today: the current month, quarter and year (still running) and the
    previous ones (just closed, the usual reporting window), most recent first within each kind."""
    out: list[Period] = []
    for current in containing(today):
        out += [current, previous(current)]
    return out
