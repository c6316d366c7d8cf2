"""The tree of a hierarchical release: program total, districts (with ``other``), each district by sex and by
age band. Nodes are named by key (``district|sex``); ``tree`` lists them parents first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from carekey.errors import InvalidInput
from carekey.stats import records as r

AGE_LABELS = tuple(b[2] for b in r.AGE_BANDS)


class Level(StrEnum):
    TOTAL = "total"
    DISTRICT = "district"
    DISTRICT_SEX = "district_sex"
    DISTRICT_AGE = "district_age"


@dataclass(frozen=True)
class Node:
    level: Level
    district: str | None = None
    sex: str | None = None
    age_band: str | None = None

    @property
    def key(self) -> str:
        return "|".join(x for x in (self.district, self.sex, self.age_band) if x is not None) or "total"

    @property
    def part(self) -> str:
        """What the node adds to its parent: its sex, age band or district ("all districts" for the total)."""
        return self.sex or self.age_band or self.district or "all districts"

    @property
    def label(self) -> str:
        parts = [x for x in (self.district, self.sex, self.age_band) if x is not None]
        return " ".join(parts) if parts else "all districts"


def tree(districts: Sequence[str]) -> list[Node]:
    """Every node, parents first: total, districts (with ``other``), then each district's sexes and ages."""
    if (
        not districts
        or len(set(districts)) != len(districts)
        or r.OTHER_DISTRICT in districts
        or any("|" in d or "\x1f" in d for d in districts)
    ):
        raise InvalidInput("districts must be a non-empty list of distinct names (not 'other', no '|')")
    ds = [*districts, r.OTHER_DISTRICT]
    return (
        [Node(Level.TOTAL)]
        + [Node(Level.DISTRICT, d) for d in ds]
        + [Node(Level.DISTRICT_SEX, d, s) for d in ds for s in r.SEXES]
        + [Node(Level.DISTRICT_AGE, d, age_band=a) for d in ds for a in AGE_LABELS]
    )


def key_of(level: Level, district: str, sex: str, band: str) -> str:
    """``Node.key`` of the node of ``level`` that a person in (district, sex, band) falls in."""
    if level is Level.TOTAL:
        return "total"
    if level is Level.DISTRICT:
        return district
    return f"{district}|{sex}" if level is Level.DISTRICT_SEX else f"{district}|{band}"
