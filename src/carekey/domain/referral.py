"""A referral: the clinician sends the person somewhere (a clinic, a doctor, a lab) for a reason, with an urgency.

What, where and why are personal health data: they are sealed under the person's data key like an exam. Whether a
referral is still open, when and at which site it was made, and how it was closed are kept in the clear, so that
a site's follow-up list can be built without opening any record (it shows codes, never names)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from carekey.errors import InvalidInput, msg

MAX_WHERE = 200
MAX_REASON = 1000


class Urgency(StrEnum):
    ROUTINE = "routine"  # at the next convenient occasion (weeks)
    SOON = "soon"  # within days
    URGENT = "urgent"  # the same day


class ClosedAs(StrEnum):
    """How a referral ended (a fixed code, never free text: it stays in the clear)."""

    SEEN = "seen"  # the person was seen where they were referred
    DECLINED = "declined"  # the person chose not to go
    NOT_NEEDED = "not_needed"  # a later measurement showed it is no longer needed


def parse_urgency(raw: str) -> Urgency:
    try:
        return Urgency(raw.strip().lower())
    except ValueError:
        raise InvalidInput(
            msg("urgency must be one of %(choices)s", choices=", ".join(u.value for u in Urgency)), field="urgency"
        ) from None


def parse_closed_as(raw: str) -> ClosedAs:
    try:
        return ClosedAs(raw.strip().lower())
    except ValueError:
        raise InvalidInput(
            msg("closing reason must be one of %(choices)s", choices=", ".join(c.value for c in ClosedAs)),
            field="closed_as",
        ) from None


@dataclass(frozen=True)
class Referral:
    id: str
    person_id: str
    visit_id: str
    site_id: str
    recorded_by: str
    recorded_at: datetime
    to_where: str
    reason: str
    urgency: Urgency
    closed_at: datetime | None = None
    closed_by: str | None = None
    closed_as: ClosedAs | None = None

    @classmethod
    def create(
        cls,
        *,
        id: str,
        person_id: str,
        visit_id: str,
        site_id: str,
        recorded_by: str,
        recorded_at: datetime,
        to_where: str,
        reason: str,
        urgency: str | Urgency,
    ) -> Referral:
        where, why = (to_where or "").strip(), (reason or "").strip()
        if not where:
            raise InvalidInput("say where the person is referred to", field="to_where")
        if not why:
            raise InvalidInput("say why the person is referred", field="reason")
        if len(where) > MAX_WHERE:
            raise InvalidInput(msg("where: at most %(n)s characters", n=MAX_WHERE), field="to_where")
        if len(why) > MAX_REASON:
            raise InvalidInput(msg("why: at most %(n)s characters", n=MAX_REASON), field="reason")
        urg = urgency if isinstance(urgency, Urgency) else parse_urgency(urgency)
        return cls(id, person_id, visit_id, site_id, recorded_by, recorded_at, where, why, urg)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def payload(self) -> dict[str, str]:
        """The sealed part."""
        return {"to_where": self.to_where, "reason": self.reason, "urgency": self.urgency.value}

    def close(self, at: datetime, by: str, closed_as: ClosedAs) -> Referral:
        if not self.is_open:
            raise InvalidInput("this referral is already closed")
        return replace(self, closed_at=at, closed_by=by, closed_as=closed_as)


@dataclass(frozen=True)
class FollowupItem:
    """One line of a site's follow-up list: codes only (no name, no reason, no place)."""

    referral_id: str
    person_code: str  # the pseudonymous program id (e.g. CK-7F3K-92QD)
    visit_code: str  # the short code of the visit that made the referral
    recorded_at: datetime


def visit_code(visit_id: str) -> str:
    """The short visit code printed on the slip and told to the clinician (the last six characters)."""
    return visit_id[-6:].upper()
