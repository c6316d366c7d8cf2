"""A person enrolled in a screening program.

Stored encrypted under the person's own data key; only keyed blind indexes of the card number,
normalized name and birth year are stored in the clear (see ``carekey.crypto``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from carekey.errors import InvalidInput, msg

MIN_BIRTH_YEAR = 1900
_CARD = re.compile(r"^[A-Z0-9]{4,20}$")


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


def normalize_name(raw: str) -> str:
    """Casefold, strip accents and punctuation, collapse spaces: ``"  José  O'Neil"`` -> ``"jose oneil"``."""
    decomposed = unicodedata.normalize("NFKD", raw)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    kept = "".join(c if c.isalnum() or c.isspace() else "" for c in plain.casefold())
    return " ".join(kept.split())


def normalize_card(raw: str) -> str:
    """Upper-case and drop spaces/dashes; cards are 4-20 letters and digits."""
    if len(raw) > 64:  # checked before any work on the text
        raise InvalidInput(
            msg("card number must be 4-20 letters or digits (got %(n)s characters)", n=len(raw)), field="card_number"
        )
    card = re.sub(r"[\s-]", "", raw).upper()
    if not _CARD.match(card):
        raise InvalidInput(
            msg("card number must be 4-20 letters or digits (got %(n)s characters)", n=len(raw)), field="card_number"
        )
    return card


def check_birth(birth_year: int, birth_date: date | None, today: date) -> None:
    if not MIN_BIRTH_YEAR <= birth_year <= today.year:
        raise InvalidInput(
            msg(
                "birth year %(year)s must be between %(low)s and %(high)s",
                year=birth_year,
                low=MIN_BIRTH_YEAR,
                high=today.year,
            ),
            field="birth_year",
        )
    if birth_date is not None:
        if birth_date.year != birth_year:
            raise InvalidInput("birth date does not match birth year", field="birth_date")
        if birth_date > today:
            raise InvalidInput("birth date is in the future", field="birth_date")


def age_on(birth_year: int, birth_date: date | None, today: date) -> int:
    """Age in whole years. With only a birth year the birthday is assumed not yet passed: the lower bound,
    the conservative choice for the consent age rules (a borderline person needs the guardian rule)."""
    if birth_date is not None:
        return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    return max(0, today.year - birth_year - 1)


def likely_age(birth_year: int, today: date) -> int:
    """With only a birth year: the more likely of the two possible ages, assuming birthdays spread evenly
    over the year (the birthday has passed with probability day-of-year / days-in-year). Born 1984: 41 on
    2026-03-01, 42 on 2026-11-29. For display only; the consent rules keep ``age_on``'s lower bound."""
    days = (date(today.year + 1, 1, 1) - date(today.year, 1, 1)).days
    passed = today.timetuple().tm_yday * 2 > days
    return max(0, today.year - birth_year - (0 if passed else 1))


def age_label(birth_year: int, birth_date: date | None, today: date) -> str:
    """Age as shown to people: ``"41"`` from a full birth date, ``"about 42"`` from a birth year alone."""
    if birth_date is not None:
        return str(age_on(birth_year, birth_date, today))
    return f"about {likely_age(birth_year, today)}"


@dataclass(frozen=True)
class Person:
    id: str  # pseudonymous program id, e.g. CK-7F3K-92QD
    given_name: str
    family_name: str
    sex: Sex
    birth_year: int
    card_number: str
    birth_date: date | None = None
    district: str = ""
    village: str = ""
    language: str = "en"

    @classmethod
    def create(
        cls,
        *,
        id: str,
        given_name: str,
        family_name: str,
        sex: str,
        birth_year: int,
        card_number: str,
        today: date,
        birth_date: date | None = None,
        district: str = "",
        village: str = "",
        language: str = "en",
    ) -> Person:
        """Validate caller input and build a Person (raises InvalidInput)."""
        if not normalize_name(given_name) and not normalize_name(family_name):
            raise InvalidInput("a person needs a given or a family name", field="given_name")
        try:
            sex_v = Sex(sex.strip().lower())
        except ValueError:
            raise InvalidInput(
                msg("sex must be one of %(choices)s", choices=", ".join(s.value for s in Sex)), field="sex"
            ) from None
        check_birth(birth_year, birth_date, today)
        return cls(
            id=id,
            given_name=given_name.strip(),
            family_name=family_name.strip(),
            sex=sex_v,
            birth_year=birth_year,
            card_number=normalize_card(card_number),
            birth_date=birth_date,
            district=district.strip(),
            village=village.strip(),
            language=language.strip() or "en",
        )

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def normalized_name(self) -> str:
        return normalize_name(self.full_name)

    def age(self, today: date) -> int:
        return age_on(self.birth_year, self.birth_date, today)

    def age_label(self, today: date) -> str:
        return age_label(self.birth_year, self.birth_date, today)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["sex"] = self.sex.value
        data["birth_date"] = self.birth_date.isoformat() if self.birth_date else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Person:
        """The stored form (``to_dict``, a JSON object sealed under the person's key) back into a Person."""
        d = dict(data)
        d["sex"] = Sex(str(d["sex"]))
        d["birth_date"] = date.fromisoformat(str(d["birth_date"])) if d.get("birth_date") else None
        return cls(**d)
