"""``authorize``: the one gate every read or write of personal data passes.

1. parse the purpose: a refused purpose is logged (outcome "refused", its public label), the log
   entry is COMMITTED, and RefusedPurpose is raised;
2. ask ``policy.decide``, with the person's consents read now (a revocation counts at once);
   a denial is logged and committed, then ConsentMissing/Forbidden is raised;
3. optional rate limits (searches per user per hour and per site per day, every attempt counted, checked under
   a lock on this account and this site, so parallel requests cannot all slip under it), logged and committed
   when exceeded;
4. a grant is appended to the log in the caller's unit of work, BEFORE any data is read or
   returned: if the append fails, the unit of work fails and no data leaves. The append takes no global lock
   (the entry gets a database id and a signed entry promise; the integrator hashes it into the Merkle tree within
   the maximum merge delay, ``carekey.services.transparency``), so it commits with the access's own writes.

Call ``authorize`` before any other write in the unit of work: a denial commits the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from carekey.audit import leaf
from carekey.audit.promise import EntryPromise
from carekey.audit.receipt import Receipt
from carekey.domain.access import AccessEvent, Outcome
from carekey.domain.consent import current_grants
from carekey.domain.purposes import Purpose, parse_purpose
from carekey.domain.visit import Visit
from carekey.errors import ConsentMissing, Forbidden, PresenceRequired, RateLimited, RefusedPurpose, msg
from carekey.policy.decision import (
    RULES,
    AccountFacts,
    Action,
    ApproverFacts,
    Decision,
    Presence,
    Request,
    VisitFacts,
    decide,
)
from carekey.services.deps import Actor
from carekey.storage.protocols import UnitOfWork

DEMOGRAPHIC_CHECK = "duplicate_check_demographic"  # the name search every enrollment runs
BIOMETRIC_CHECK = "duplicate_check_biometric"  # the 1:N search a person's first template of a modality runs
# Every search that can show people counts against the same per-account and per-site limits: lookups,
# identifications, and the duplicate checks of enrollment (else a throwaway enrollment is an unlimited search).
IDENTIFY_ACTIONS = (Action.LOOKUP.value, Action.IDENTIFY_BIOMETRIC.value, DEMOGRAPHIC_CHECK, BIOMETRIC_CHECK)


def log_access(
    uow: UnitOfWork,
    at: datetime,
    actor: Actor,
    action: str,
    purpose: str,
    outcome: Outcome,
    reason: str,
    site_id: str | None = None,
    person_id: str | None = None,
    receipts: list[Receipt] | None = None,
) -> EntryPromise | int:
    """Append one decision to the log in ``uow`` (committed with it); returns its signed entry promise. With
    ``receipts``, the opened entry and its promise are added to it (a log receipt for the matcher, issue 15)."""
    event = AccessEvent(
        at=at,
        actor_id=actor.user_id,
        role=actor.role.value,
        site_id=site_id,
        purpose=purpose,
        action=action,
        outcome=outcome,
        reason=reason,
        person_id=person_id,
    )
    salt = leaf.new_salt()
    promise = uow.access_log.append(event, salt, leaf.leaf_input(event.leaf_event(), salt))
    if receipts is not None and isinstance(promise, EntryPromise):
        receipts.append(Receipt(event.leaf_event(), salt, promise))
    return promise


def consents_of(uow: UnitOfWork, person_id: str) -> frozenset[Purpose]:
    return current_grants(uow.consents.history(person_id))


def authorize(
    uow: UnitOfWork,
    now: datetime,
    actor: Actor,
    action: Action,
    purpose_raw: str | None,
    *,
    visit: Visit | None = None,
    site_id: str | None = None,
    person_id: str | None = None,
    consents: frozenset[Purpose] | None = None,
    per_hour: int | None = None,
    per_site_day: int | None = None,
    person_agreed: bool = False,
    presence: Presence | None = None,
    approver: ApproverFacts | None = None,
    regrant: bool = False,
    account: AccountFacts | None = None,
    actor_program_sites: frozenset[str] | None = None,
    detail: str = "",
    logged_action: str | None = None,
    actor_programs: frozenset[str] = frozenset(),
    program_id: str | None = None,
    receipts: list[Receipt] | None = None,
    node_approved_by: str | None = None,
) -> Purpose:
    """Decide, log and (on a denial) commit; return the parsed purpose on a grant. ``detail`` is appended to the
        logged reason (e.g. what an admin action changed); ``logged_action`` names the entry when it is more precise
        than the policy action (``admin_add_user`` for ``administer``). ``receipts`` receives the granted entry's log
    receipt (``log_access``)."""
    name = logged_action or action.value
    site_id = site_id if site_id is not None else (visit.site_id if visit else None)
    try:
        purpose = parse_purpose(purpose_raw or "")
    except RefusedPurpose as err:
        log_access(uow, now, actor, name, str(err.detail["purpose"]), "refused", err.message, site_id, person_id)
        uow.commit()
        raise
    if consents is None:
        consents = consents_of(uow, person_id) if person_id else frozenset()
    facts = (
        VisitFacts(
            visit.site_id,
            visit.is_open,
            visit.person_id,
            frozenset(uow.visits.offers(visit.id)),
            visit.opened_by,
            visit.expired(now),
        )
        if visit
        else None
    )
    decision = decide(
        Request(
            actor_id=actor.user_id,
            role=actor.role,
            actor_site_ids=actor.site_ids,
            action=action,
            purpose=purpose,
            site_id=site_id,
            visit=facts,
            person_id=person_id,
            consents=consents,
            same_program=_same_program(uow, site_id, person_id),
            person_agreed=person_agreed,
            actor_approved=actor.approved,
            presence=presence,
            approver=approver,
            regrant=regrant,
            person_has_pin=presence is not None and _has_pin(uow, person_id),
            person_has_biometrics=presence is not None and bool(person_id and uow.biometrics.for_person(person_id)),
            account=account,
            actor_program_sites=actor_program_sites,
            actor_programs=actor_programs,
            program_id=program_id,
            lease_expired_since=_lease_expired(uow, now),
            node_approved_by=node_approved_by,
        )
    )
    if not decision.allowed:
        log_access(uow, now, actor, name, purpose.value, "denied", decision.reason, site_id, person_id)
        uow.commit()
        if decision.missing_consent is not None:
            raise ConsentMissing(decision.reason, purpose=decision.missing_consent.value)
        if decision.missing_presence:
            raise PresenceRequired(decision.reason)
        raise Forbidden(decision.reason)
    if per_hour is not None or per_site_day is not None:
        _within_limits(uow, now, actor, name, purpose, site_id, person_id, per_hour, per_site_day)
    log_access(uow, now, actor, name, purpose.value, "granted", decision.reason + detail, site_id, person_id, receipts)
    return purpose


def _within_limits(
    uow: UnitOfWork,
    now: datetime,
    actor: Actor,
    name: str,
    purpose: Purpose,
    site_id: str | None,
    person_id: str | None,
    per_hour: int | None,
    per_site_day: int | None,
) -> None:
    """Raise RateLimited (the refusal logged and committed) when the account or the site has spent its searches."""
    # count and append as one step: parallel searches by this account or at this site cannot all pass the limit
    uow.access_log.lock_limits(
        actor.user_id if per_hour is not None else None, site_id if per_site_day is not None else None
    )
    reason = _over_limit(uow, now, actor, site_id, per_hour, per_site_day)
    if reason is not None:
        log_access(uow, now, actor, name, purpose.value, "denied", reason, site_id, person_id)
        uow.commit()
        raise RateLimited(reason, retry_after=3600)


def count_search(
    uow: UnitOfWork,
    now: datetime,
    actor: Actor,
    check: str,
    purpose: Purpose,
    site_id: str,
    person_id: str | None,
    per_hour: int,
    per_site_day: int,
) -> None:
    """A duplicate check about to search the program (``DEMOGRAPHIC_CHECK`` or ``BIOMETRIC_CHECK``): refused like a
    lookup once the account or the site has spent its searches, else logged as one of them."""
    _within_limits(uow, now, actor, check, purpose, site_id, person_id, per_hour, per_site_day)
    log_access(uow, now, actor, check, purpose.value, "granted", "duplicate check of an enrollment", site_id, person_id)


def _over_limit(
    uow: UnitOfWork, now: datetime, actor: Actor, site_id: str | None, per_hour: int | None, per_site_day: int | None
) -> str | None:
    if (
        per_hour is not None
        and uow.access_log.count_since(actor.user_id, IDENTIFY_ACTIONS, now - timedelta(hours=1)) >= per_hour
    ):
        return msg("identification rate limit reached (%(n)s per hour for this account)", n=per_hour)
    if (
        per_site_day is not None
        and site_id is not None
        and uow.access_log.count_site_since(site_id, IDENTIFY_ACTIONS, now - timedelta(days=1)) >= per_site_day
    ):
        return msg(
            "identification rate limit reached (%(n)s per day at site %(site)s, all accounts together)",
            n=per_site_day,
            site=site_id,
        )
    return None


def _lease_expired(uow: UnitOfWork, now: datetime) -> str | None:
    """On a site node past its lease (docs/sync.md): the date of its last sync; None on the central registry or
    a node within its lease."""
    state = uow.sync.node_state()
    if state is None:
        return None
    start = state.last_sync_at or state.created_at
    return start.date().isoformat() if now > start + timedelta(days=state.lease_days) else None


def _has_pin(uow: UnitOfWork, person_id: str | None) -> bool:
    row = uow.people.get(person_id) if person_id else None
    return row is not None and row.pin_hash is not None


def _same_program(uow: UnitOfWork, site_id: str | None, person_id: str | None) -> bool:
    """False only when both are known and the person is enrolled in another program than the site's."""
    if site_id is None or person_id is None:
        return True
    row, site = uow.people.get(person_id), uow.programs.get_site(site_id)
    return row is None or site is None or row.program_id == site.program_id


def permitted(actor: Actor, action: Action, *, site_id: str | None = None, visit: Visit | None = None) -> Decision:
    """The decision, not logged, for the actions that touch no personal data (``handle_visit``,
    ``screen_without_record``): nothing about a person is read, so there is nothing to account for."""
    rule = RULES.get(action)
    facts = VisitFacts(visit.site_id, visit.is_open, visit.person_id) if visit else None
    return decide(
        Request(
            actor_id=actor.user_id,
            role=actor.role,
            actor_site_ids=actor.site_ids,
            action=action,
            purpose=rule.purpose if rule else Purpose.CARE_RECORD,
            actor_approved=actor.approved,
            site_id=visit.site_id if visit else site_id,
            visit=facts,
        )
    )


def check_policy(actor: Actor, action: Action, purpose_raw: str | None) -> Purpose:
    """The decision alone, without logging: only for the auditor when the log itself refuses appends."""
    purpose = parse_purpose(purpose_raw or "")
    decision = decide(
        Request(
            actor_id=actor.user_id,
            role=actor.role,
            actor_site_ids=actor.site_ids,
            action=action,
            purpose=purpose,
            actor_approved=actor.approved,
        )
    )
    if not decision.allowed:
        raise Forbidden(decision.reason)
    return purpose
