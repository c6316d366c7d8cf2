"""Lookup without biometrics: by card number, or by name + birth year (+ village), fuzzy.

Candidates are narrowed by blind indexes (birth year +-1, optional village, exact normalized name),
decrypted in memory and ranked with rapidfuzz's token-sort ratio. At most ``max_candidates`` (<= 5)
are returned, only inside an open visit at the user's site, rate-limited per user; each candidate
shown is logged as an access to that person's data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz import fuzz

from carekey.domain.person import Person, normalize_name
from carekey.domain.purposes import Purpose
from carekey.domain.visit import Visit
from carekey.errors import InvalidInput, msg
from carekey.policy.decision import Action
from carekey.services.access import authorize, consents_of, log_access
from carekey.services.deps import Actor, Deps
from carekey.services.records import open_person_or_none
from carekey.services.visits import load_visit
from carekey.storage.protocols import PersonRow, UnitOfWork

MAX_NAME_CHARS = 200  # lookup fields are capped before any normalization or fuzzy matching
CANDIDATE_POOL = 5000  # most rows decrypted for one name lookup
YEAR_PENALTY = 5.0  # score points lost per year of birth-year difference


@dataclass(frozen=True)
class Candidate:
    person_id: str
    given_name: str
    family_name: str
    sex: str
    birth_year: int
    district: str
    village: str
    score: float  # 0-100

    @classmethod
    def of(cls, p: Person, score: float) -> Candidate:
        return cls(p.id, p.given_name, p.family_name, p.sex.value, p.birth_year, p.district, p.village, round(score, 1))


def report_candidates(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    visit: Visit,
    action: str,
    purpose: Purpose,
    candidates: list[Candidate],
    method: str,
) -> None:
    """Log each person shown as a candidate (the person will see it in their access log) and record them as
    offered by this visit: the only people this visit may then bind to (``policy.decision``)."""
    now = deps.clock()
    for c in candidates:
        log_access(
            uow,
            now,
            actor,
            f"{action}_result",
            purpose.value,
            "granted",
            f"shown as a candidate (score {c.score})",
            visit.site_id,
            c.person_id,
        )
        uow.visits.offer(visit.id, c.person_id, method)


class LookupService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def _run(
        self,
        actor: Actor,
        visit_id: str,
        purpose: str | None,
        find: Callable[[UnitOfWork, list[str]], list[tuple[Person, float]]],
        method: str,
    ) -> list[Candidate]:
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            p = authorize(
                uow,
                self.d.clock(),
                actor,
                Action.LOOKUP,
                purpose,
                visit=visit,
                per_hour=self.d.settings.identifications_per_hour,
                per_site_day=self.d.settings.identifications_per_site_per_day,
            )
            assert visit is not None
            site = uow.programs.get_site(visit.site_id)
            program_ids = [site.program_id] if site is not None else []  # only the visit's own program
            rows = [r for r in find(uow, program_ids) if Purpose.CARE_RECORD in consents_of(uow, r[0].id)]
            ranked = sorted((Candidate.of(p, score) for p, score in rows), key=lambda c: (-c.score, c.person_id))
            ranked = ranked[: self.d.settings.max_candidates]
            report_candidates(uow, self.d, actor, visit, Action.LOOKUP.value, p, ranked, method)
            uow.commit()
        return ranked

    def by_card(self, actor: Actor, visit_id: str, purpose: str | None, card_number: str) -> list[Candidate]:
        def find(uow: UnitOfWork, program_ids: list[str]) -> list[tuple[Person, float]]:
            rows = [uow.people.by_card(pid, self.d.index.card(card_number)) for pid in program_ids]
            people = [open_person_or_none(self.d.crypto, r) for r in rows if r is not None]
            return [(p, 100.0) for p in people if p is not None]

        return self._run(actor, visit_id, purpose, find, "card")

    def by_name(
        self, actor: Actor, visit_id: str, purpose: str | None, name: str, birth_year: int, village: str | None = None
    ) -> list[Candidate]:
        if len(name) > MAX_NAME_CHARS or len(village or "") > MAX_NAME_CHARS:
            raise InvalidInput(msg("a name or village has at most %(n)s characters", n=MAX_NAME_CHARS), field="name")
        query = normalize_name(name)
        if len(query) < 2:
            raise InvalidInput("give at least two letters of the name")
        ix, min_score = self.d.index, self.d.settings.lookup_min_score

        def find(uow: UnitOfWork, program_ids: list[str]) -> list[tuple[Person, float]]:
            years = [ix.birth_year(y) for y in (birth_year - 1, birth_year, birth_year + 1)]
            village_ix = ix.village(village) if village and village.strip() else None
            pool: dict[str, PersonRow] = {}
            for program_id in program_ids:
                for row in uow.people.candidates(program_id, years, village_ix, CANDIDATE_POOL):
                    pool[row.id] = row
                for row in uow.people.by_name(program_id, ix.name(name), 50):  # exact name, any birth year
                    if village_ix is None or row.village_bidx == village_ix:
                        pool[row.id] = row
            scored = []
            for row in pool.values():
                person = open_person_or_none(self.d.crypto, row)
                if person is None:
                    continue
                score = fuzz.token_sort_ratio(query, person.normalized_name)
                score -= YEAR_PENALTY * abs(person.birth_year - birth_year)
                if score >= min_score:
                    scored.append((person, float(score)))
            return scored

        return self._run(actor, visit_id, purpose, find, "name")
