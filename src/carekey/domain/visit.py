"""A visit: one person-present encounter at a site, opened and closed by a user.

Every read or write of a person's data happens inside an OPEN visit at the user's site. A visit is
opened before the person is identified (identification needs a visit) and bound to the person once
the registrar confirms the candidate or enrolls them; after that it serves that person only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from carekey.errors import Conflict, msg

MAX_OPEN = timedelta(hours=12)  # a visit is one encounter on one screening day: after this it serves nobody


@dataclass(frozen=True)
class Visit:
    id: str
    site_id: str
    opened_by: str
    opened_at: datetime
    person_id: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def expired(self, now: datetime) -> bool:
        """Open for longer than one screening day (``MAX_OPEN``): it can no longer reach anyone."""
        return self.is_open and now - self.opened_at > MAX_OPEN

    def require_open(self) -> None:
        if not self.is_open:
            raise Conflict(msg("visit %(visit)s is closed; open a new visit", visit=self.id), visit_id=self.id)

    def bind(self, person_id: str) -> Visit:
        """Bind the visit to the identified/enrolled person (once; re-binding the same person is a no-op)."""
        self.require_open()
        if self.person_id not in (None, person_id):
            raise Conflict("this visit already serves another person; open a new visit", visit_id=self.id)
        return replace(self, person_id=person_id)

    def close(self, user_id: str, at: datetime) -> Visit:
        self.require_open()
        return replace(self, closed_by=user_id, closed_at=at)
