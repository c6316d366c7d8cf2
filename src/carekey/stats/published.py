"""A published release: what a manager released for one program and period (noisy aggregates only), kept so
that it can be shown again, downloaded (CSV, DHIS2) and pushed to DHIS2 without spending budget twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

#: A JSON object as stored and served (what ``json.loads`` gives): the release body written by
#: ``HierarchicalRelease.to_dict``, DHIS2 payloads and answers. Its shape is checked by the code that reads it.
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class PublishedRelease:
    id: str
    program_id: str
    period: str  # DHIS2 period id
    statistic: str
    epsilon: float
    created_at: datetime
    created_by: str
    body: JsonObject  # HierarchicalRelease.to_dict()
    sent_at: datetime | None = None
    sent_summary: JsonObject | None = None


class ReleaseStore(Protocol):
    def add(self, release: PublishedRelease) -> None: ...
    def get(self, release_id: str) -> PublishedRelease | None: ...
    def list(self, program_id: str, period: str | None = None) -> Sequence[PublishedRelease]: ...
    def mark_sent(self, release_ids: Sequence[str], at: datetime, summary: dict[str, object]) -> None: ...
