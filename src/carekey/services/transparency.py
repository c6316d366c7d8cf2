"""Public transparency figures: refused requests by purpose label and month (no personal data)."""

from __future__ import annotations

from dataclasses import dataclass

from carekey.services.deps import Deps


@dataclass(frozen=True)
class RefusalCount:
    purpose: str
    month: str  # YYYY-MM
    count: int


class TransparencyService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def refusals(self) -> list[RefusalCount]:
        with self.d.uow() as uow:
            return [RefusalCount(p, m, n) for p, m, n in uow.access_log.refusal_counts()]
