"""One access decision, as appended to the transparency log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Outcome = Literal["granted", "denied", "refused"]
OUTCOMES: tuple[Outcome, ...] = ("granted", "denied", "refused")


@dataclass(frozen=True)
class AccessEvent:
    """``purpose`` is a string label: a Purpose value, or a refusal label (``law_enforcement``, ``other``...).
    ``seq`` is assigned by the log (contiguous from 0); ``None`` before the append."""

    at: datetime
    actor_id: str
    role: str
    site_id: str | None
    purpose: str
    action: str
    outcome: Outcome
    reason: str
    person_id: str | None = None
    seq: int | None = None

    def leaf_event(self) -> dict[str, object]:
        """The fields committed to by the log leaf (carekey.audit.leaf); never names, never record data."""
        return {
            "at": self.at.isoformat(),
            "actor_id": self.actor_id,
            "role": self.role,
            "site_id": self.site_id,
            "purpose": self.purpose,
            "action": self.action,
            "outcome": self.outcome,
            "reason": self.reason,
            "person_id": self.person_id,
        }

    @property
    def month(self) -> str:
        return self.at.strftime("%Y-%m")
