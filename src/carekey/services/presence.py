"""Proof that the person is here, in this visit, for the powerful actions (``policy.decision`` PRESENT).

The health worker offers the person one step on the same screen: type your PIN; or, when they have no PIN or
forgot it, a fingerprint or iris capture matched to their own template (this visit's identification found them
by biometrics); or a second staff member of the site types their own username and password (two-person rule).
This module only establishes the facts (which proof, which approver); whether they suffice is the policy's call.
A wrong PIN is logged against the person (``prove_presence``, denied) and at most
``presence_pin_failures_per_hour`` are tried, so the proof is no PIN oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from carekey.domain.visit import Visit
from carekey.errors import RateLimited, msg
from carekey.policy.decision import ApproverFacts, Presence
from carekey.services.access import log_access
from carekey.services.deps import Actor, Deps
from carekey.storage.protocols import UnitOfWork

PROVE = "prove_presence"
PROVE_APPROVER = "prove_presence_approver"  # a failed second-staff approval (counted per account and per site)


@dataclass(frozen=True)
class PresenceProof:
    """What was typed on the device as proof (all optional: a biometric match in the visit needs nothing)."""

    pin: str | None = None
    approver_username: str | None = None
    approver_password: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.pin or self.approver_username)


NO_PROOF = PresenceProof()


def establish(
    uow: UnitOfWork, deps: Deps, actor: Actor, visit: Visit | None, person_id: str, proof: PresenceProof
) -> tuple[Presence | None, ApproverFacts | None]:
    """The strongest proof available for ``person_id`` in ``visit`` (None when there is none)."""
    if visit is None:
        return None, None
    now = deps.clock()
    if proof.pin:
        since = now - timedelta(hours=1)
        limit = deps.settings.presence_pin_failures_per_hour
        if uow.access_log.count_person_since(person_id, [PROVE], "denied", since) >= limit:
            reason = msg(
                "too many wrong PINs for this person (%(n)s per hour): use another proof or come back later", n=limit
            )
            log_access(uow, now, actor, PROVE, "care_record", "denied", reason, visit.site_id, person_id)
            uow.commit()
            raise RateLimited(reason, retry_after=3600)
        row = uow.people.get(person_id)
        if row is not None and deps.passwords.verify(row.pin_hash, proof.pin):
            return Presence.PIN, None
        log_access(
            uow,
            now,
            actor,
            PROVE,
            "care_record",
            "denied",
            "wrong PIN typed as proof of presence",
            visit.site_id,
            person_id,
        )
        return None, None
    if proof.approver_username:
        limit = deps.settings.presence_pin_failures_per_hour
        since = now - timedelta(hours=1)
        if (
            uow.access_log.count_since(actor.user_id, [PROVE_APPROVER], since) >= limit
            or uow.access_log.count_site_since(visit.site_id, [PROVE_APPROVER], since) >= 4 * limit
        ):  # the approver's password is no oracle either: few wrong ones per account and per site an hour
            refusal = "too many wrong second-staff approvals: come back later or use another proof"
            log_access(uow, now, actor, PROVE, "care_record", "denied", refusal, visit.site_id, person_id)
            uow.commit()
            raise RateLimited(refusal, retry_after=3600)
        found = uow.users.by_username(proof.approver_username.strip().lower()[:40])
        # a missing account costs one hash too (passwords.verify of None): the answer says nothing of who exists
        if deps.passwords.verify(found[1] if found else None, proof.approver_password or "") and found:
            u = found[0]
            return Presence.SECOND_STAFF, ApproverFacts(u.id, u.username, u.role, u.site_ids, u.approved, u.active)
        log_access(
            uow,
            now,
            actor,
            PROVE_APPROVER,
            "care_record",
            "denied",
            "second staff approval: wrong username or password",
            visit.site_id,
            person_id,
        )
        return None, None
    method = uow.visits.offers(visit.id).get(person_id)
    if method == "biometric":
        return Presence.BIOMETRIC, None
    if method == "enrolled":
        return Presence.ENROLLED, None
    return None, None
