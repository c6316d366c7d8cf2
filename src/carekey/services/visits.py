"""Open and close visits. Opening a visit reads no personal data; it only needs a site of the user."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from carekey.domain.ids import new_id
from carekey.domain.program import Role
from carekey.domain.visit import Visit
from carekey.errors import Forbidden, NotFound
from carekey.services.deps import Actor, Deps
from carekey.services.fhir_push import FhirPushService
from carekey.storage.protocols import UnitOfWork

VISIT_ROLES = (Role.REGISTRAR, Role.CLINICIAN)
QUEUE_HOURS = 24  # an open visit older than this is left out of the site queue


def load_visit(uow: UnitOfWork, visit_id: str) -> Visit | None:
    """The visit, or None when it does not exist (``authorize`` then denies and logs)."""
    return uow.visits.get(visit_id) if visit_id else None


class VisitService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def open(self, actor: Actor, site_id: str) -> Visit:
        if actor.role not in VISIT_ROLES:
            raise Forbidden(f"a {actor.role.value} does not open visits")
        if not actor.approved:
            raise Forbidden("this account is awaiting approval by a second admin or the program manager")
        if site_id not in actor.site_ids:
            raise Forbidden(f"you do not work at site {site_id!r}")
        with self.d.uow() as uow:
            if uow.programs.get_site(site_id) is None:
                raise NotFound(f"no site {site_id!r}")
            visit = Visit(id=new_id("V"), site_id=site_id, opened_by=actor.user_id, opened_at=self.d.clock())
            uow.visits.add(visit)
            uow.commit()
        return visit

    def close(self, actor: Actor, visit_id: str) -> Visit:
        with self.d.uow() as uow:
            visit = uow.visits.get(visit_id)
            # a manager's sites only bind them to a program (statistics): visits are for registrars and clinicians
            if visit is None or visit.site_id not in actor.site_ids or actor.role not in VISIT_ROLES:
                raise NotFound(f"no visit {visit_id} at your sites")
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
        if visit is None or visit.site_id not in actor.site_ids or actor.role not in VISIT_ROLES:
            raise NotFound(f"no visit {visit_id} at your sites")
        return visit if visit.is_open else replace(visit, person_id=None)

    def open_visits(self, actor: Actor) -> list[Visit]:
        """The site queue: visits still open at the actor's sites, opened in the last day, oldest first. A visit
        carries no personal data (only whether a person is bound), so listing them reads none; the clinician
        picks the visit by its short code to take over from the registrar."""
        if actor.role not in VISIT_ROLES:
            raise Forbidden(f"a {actor.role.value} has no visit queue")
        with self.d.uow(read_only=True) as uow:
            return uow.visits.open_at(sorted(actor.site_ids), self.d.clock() - timedelta(hours=QUEUE_HOURS))
