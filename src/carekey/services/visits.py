"""Open and close visits. Opening a visit reads no personal data; it only needs a site of the user."""

from __future__ import annotations

from dataclasses import replace

from carekey.domain.ids import new_id
from carekey.domain.visit import MAX_OPEN, Visit
from carekey.errors import Forbidden, NotFound, msg
from carekey.policy.decision import Action
from carekey.services.access import permitted
from carekey.services.deps import Actor, Deps
from carekey.services.fhir_push import FhirPushService
from carekey.storage.protocols import UnitOfWork


def load_visit(uow: UnitOfWork, visit_id: str) -> Visit | None:
    """The visit, or None when it does not exist (``authorize`` then denies and logs)."""
    return uow.visits.get(visit_id) if visit_id else None


class VisitService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def open(self, actor: Actor, site_id: str) -> Visit:
        decision = permitted(actor, Action.HANDLE_VISIT, site_id=site_id)
        if not decision.allowed:
            raise Forbidden(decision.reason)
        with self.d.uow() as uow:
            if uow.programs.get_site(site_id) is None:
                raise NotFound(msg("no site %(site)s", site=repr(site_id)))
            visit = Visit(id=new_id("V"), site_id=site_id, opened_by=actor.user_id, opened_at=self.d.clock())
            uow.visits.add(visit)
            uow.commit()
        return visit

    def close(self, actor: Actor, visit_id: str) -> Visit:
        with self.d.uow() as uow:
            visit = uow.visits.get(visit_id)
            visit = _visible(actor, visit, visit_id)
            closed = visit.close(actor.user_id, self.d.clock())
            uow.visits.save(closed)
            uow.commit()
        FhirPushService(self.d).visit_closed(actor, closed)  # ehr_sharing: queue and try the FHIR push
        return closed

    def get(self, actor: Actor, visit_id: str) -> Visit:
        """A visit at the actor's sites. Once closed it no longer says whom it served (a past visit id, e.g. on an
        exam, is no way to learn a person id)."""
        with self.d.uow(read_only=True) as uow:
            visit = uow.visits.get(visit_id)
        visit = _visible(actor, visit, visit_id)
        return visit if visit.is_open else replace(visit, person_id=None)

    def open_visits(self, actor: Actor) -> list[Visit]:
        """The site queue: visits still open at the actor's sites, opened in the last 12 hours
        (``MAX_OPEN``; older ones serve nobody), oldest first. A visit
        carries no personal data (only whether a person is bound), so listing them reads none; the clinician
        picks the visit by its short code to take over from the registrar."""
        decision = permitted(actor, Action.HANDLE_VISIT)
        if not decision.allowed:
            raise Forbidden(decision.reason)
        with self.d.uow(read_only=True) as uow:
            return uow.visits.open_at(sorted(actor.site_ids), self.d.clock() - MAX_OPEN)


def _visible(actor: Actor, visit: Visit | None, visit_id: str) -> Visit:
    """NotFound unless the policy lets the actor handle ``visit`` (a manager's sites only bind them to a program,
    for statistics: visits are for registrars and clinicians, at their own sites)."""
    if visit is None or not permitted(actor, Action.HANDLE_VISIT, site_id=visit.site_id).allowed:
        raise NotFound(msg("no visit %(visit)s at your sites", visit=visit_id))
    return visit
