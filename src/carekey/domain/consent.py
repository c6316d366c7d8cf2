"""Consent per purpose, with history.

A consent row records one decision (grant or revoke) for one consent purpose, with the notice
version and language shown, who decided, when, where and which user took it. Rows are never
updated: the current state of a purpose is its latest row.

Age rules (checked on grants; a revocation is always accepted so that withdrawing is never harder
than granting):
    18 and over   the person, alone                         (grantor "self", no guardian)
    12 to 17      the person, co-signed by a guardian       (grantor "self" + guardian name/relation)
    under 12      a guardian decides                        (grantor "guardian" + guardian name/relation)

Dependent purposes (``DEPENDS_ON``): ``biometric_image_retention`` is granted only together with (or after)
``biometric_identification``; revoking ``biometric_identification`` revokes it too (``implied_revocations``),
so that granting biometrics again later never silently brings back the keeping of images.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from carekey.domain.purposes import CONSENT_PURPOSES, DEPENDS_ON, Purpose
from carekey.errors import InvalidInput, msg

ADULT_AGE = 18
MINOR_SELF_AGE = 12


class GrantorKind(StrEnum):
    SELF = "self"
    GUARDIAN = "guardian"


@dataclass(frozen=True)
class Grantor:
    kind: GrantorKind = GrantorKind.SELF
    guardian_name: str = ""
    guardian_relation: str = ""

    @property
    def has_guardian(self) -> bool:
        return bool(self.guardian_name.strip() and self.guardian_relation.strip())


def parse_consent_purpose(raw: str) -> Purpose:
    norm = raw.strip().lower()
    for p in CONSENT_PURPOSES:
        if p.value == norm:
            return p
    raise InvalidInput(
        msg(
            "%(raw)s is not a consent purpose; one of %(choices)s",
            raw=repr(raw),
            choices=", ".join(p.value for p in CONSENT_PURPOSES),
        ),
        field="grant",
    )


def check_dependencies(granted: Iterable[Purpose]) -> None:
    """Raise InvalidInput when a purpose is granted without the purpose it depends on."""
    grants = frozenset(granted)
    for purpose, needed in DEPENDS_ON.items():
        if purpose in grants and needed not in grants:
            raise InvalidInput(
                msg(
                    "%(purpose)s can only be granted together with %(needed)s "
                    "(the images are kept only to renew the person's biometric codes)",
                    purpose=purpose.value,
                    needed=needed.value,
                ),
                field="grant",
            )


def implied_revocations(revoked: Purpose, current: Iterable[Purpose]) -> tuple[Purpose, ...]:
    """The currently granted purposes that depend on ``revoked`` and so end with it."""
    grants = frozenset(current)
    return tuple(p for p, needed in DEPENDS_ON.items() if needed is revoked and p in grants)


def check_grantor(grantor: Grantor, age: int) -> None:
    """Raise InvalidInput when ``grantor`` may not grant consent for a person of ``age``."""
    if age >= ADULT_AGE:
        if grantor.kind is not GrantorKind.SELF or grantor.guardian_name.strip():
            raise InvalidInput("an adult (18+) grants consent personally, without a guardian", field="guardian_name")
    elif age >= MINOR_SELF_AGE:
        if grantor.kind is not GrantorKind.SELF or not grantor.has_guardian:
            raise InvalidInput(
                "a person aged 12-17 grants consent personally with a guardian's co-signature "
                "(guardian name and relation)",
                field="guardian_name",
            )
    elif grantor.kind is not GrantorKind.GUARDIAN or not grantor.has_guardian:
        raise InvalidInput(
            "for a child under 12 a guardian grants consent (guardian name and relation)", field="guardian_name"
        )


@dataclass(frozen=True)
class ConsentRecord:
    id: str
    person_id: str
    purpose: Purpose
    granted: bool  # True: grant, False: revocation
    notice_version: str
    language: str
    grantor: Grantor
    at: datetime
    site_id: str | None  # None: decided by the person in the patient portal
    user_id: str | None


def current_grants(history: Iterable[ConsentRecord] | Iterable[Any]) -> frozenset[Purpose]:
    """The purposes whose latest decision is a grant (from domain records or storage rows alike)."""
    latest: dict[str, Any] = {}
    # latest by decision time; on equal times a withdrawal (or refusal) wins (docs/sync.md: decisions made on a
    # site node and centrally merge by time)
    for rec in sorted(history, key=lambda r: (r.at, not r.granted)):
        latest[rec.purpose] = rec
    return frozenset(Purpose(p) for p, rec in latest.items() if rec.granted)
