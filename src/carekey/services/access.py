"""``authorize``: the one gate every read or write of personal data passes.

1. parse the purpose: a refused purpose is logged (outcome "refused", its public label), the log
   entry is COMMITTED, and RefusedPurpose is raised;
2. ask ``policy.decide``, with the person's consents read now (a revocation counts at once);
   a denial is logged and committed, then ConsentMissing/Forbidden is raised;
3. optional rate limit (identifications per user per hour), logged and committed when exceeded;
4. a grant is appended to the log in the caller's unit of work, BEFORE any data is read or
   returned: if the append fails, the unit of work fails and no data leaves.

Call ``authorize`` before any other write in the unit of work: a denial commits the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from carekey.audit import leaf
from carekey.domain.access import AccessEvent, Outcome
from carekey.domain.consent import current_grants
from carekey.domain.purposes import Purpose, parse_purpose
from carekey.domain.visit import Visit
from carekey.errors import ConsentMissing, Forbidden, RateLimited, RefusedPurpose
from carekey.policy.decision import Action, Request, VisitFacts, decide
from carekey.services.deps import Actor
from carekey.storage.protocols import UnitOfWork

IDENTIFY_ACTIONS = (Action.LOOKUP.value, Action.IDENTIFY_BIOMETRIC.value)


def log_access(uow: UnitOfWork, at: datetime, actor: Actor, action: str, purpose: str, outcome: Outcome,
               reason: str, site_id: str | None = None, person_id: str | None = None) -> int:
    event = AccessEvent(at=at, actor_id=actor.user_id, role=actor.role.value, site_id=site_id, purpose=purpose,
                        action=action, outcome=outcome, reason=reason, person_id=person_id)
    salt = leaf.new_salt()
    return uow.access_log.append(event, salt, leaf.leaf_input(event.leaf_event(), salt))


def consents_of(uow: UnitOfWork, person_id: str) -> frozenset[Purpose]:
    return current_grants(uow.consents.history(person_id))


def authorize(uow: UnitOfWork, now: datetime, actor: Actor, action: Action, purpose_raw: str | None, *,
              visit: Visit | None = None, site_id: str | None = None, person_id: str | None = None,
              consents: frozenset[Purpose] | None = None, per_hour: int | None = None,
              person_agreed: bool = False) -> Purpose:
    site_id = site_id if site_id is not None else (visit.site_id if visit else None)
    try:
        purpose = parse_purpose(purpose_raw or "")
    except RefusedPurpose as err:
        log_access(uow, now, actor, action.value, str(err.detail["purpose"]), "refused", err.message, site_id,
                   person_id)
        uow.commit()
        raise
    if consents is None:
        consents = consents_of(uow, person_id) if person_id else frozenset()
    facts = VisitFacts(visit.site_id, visit.is_open, visit.person_id) if visit else None
    decision = decide(Request(actor_id=actor.user_id, role=actor.role, actor_site_ids=actor.site_ids,
                              action=action, purpose=purpose, site_id=site_id, visit=facts, person_id=person_id,
                              consents=consents, same_program=_same_program(uow, site_id, person_id),
                              person_agreed=person_agreed))
    if not decision.allowed:
        log_access(uow, now, actor, action.value, purpose.value, "denied", decision.reason, site_id, person_id)
        uow.commit()
        if decision.missing_consent is not None:
            raise ConsentMissing(decision.reason, purpose=decision.missing_consent.value)
        raise Forbidden(decision.reason)
    if per_hour is not None:
        used = uow.access_log.count_since(actor.user_id, IDENTIFY_ACTIONS, now - timedelta(hours=1))
        if used >= per_hour:
            reason = f"identification rate limit reached ({per_hour} per hour)"
            log_access(uow, now, actor, action.value, purpose.value, "denied", reason, site_id, person_id)
            uow.commit()
            raise RateLimited(reason, retry_after=3600)
    log_access(uow, now, actor, action.value, purpose.value, "granted", decision.reason, site_id, person_id)
    return purpose


def _same_program(uow: UnitOfWork, site_id: str | None, person_id: str | None) -> bool:
    """False only when both are known and the person is enrolled in another program than the site's."""
    if site_id is None or person_id is None:
        return True
    row, site = uow.people.get(person_id), uow.programs.get_site(site_id)
    return row is None or site is None or row.program_id == site.program_id


def check_policy(actor: Actor, action: Action, purpose_raw: str | None) -> Purpose:
    """The decision alone, without logging: only for the auditor when the log itself refuses appends."""
    purpose = parse_purpose(purpose_raw or "")
    decision = decide(Request(actor_id=actor.user_id, role=actor.role, actor_site_ids=actor.site_ids, action=action,
                              purpose=purpose))
    if not decision.allowed:
        raise Forbidden(decision.reason)
    return purpose
