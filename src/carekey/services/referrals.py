"""Referrals and the site's follow-up list.

- ``record``: the clinician, in a visit serving the person, refers them (where, why, urgency); sealed under the
  person's data key, logged (``record_referral``).
- ``for_person``: the person's referrals in the visit (``read_referrals``, logged).
- ``followup``: the open referrals of one of the clinician's sites, as codes only (person code, visit code,
  date): the list is one log entry and each person listed gets their own entry (they see that they appeared
  in a follow-up list), like a candidate of a search. Nothing sealed is opened for the list.
- ``close``: a clinician of the referral's site closes it with a fixed reason (seen, declined, not needed),
  from the visit or from the list; logged with the person's id.
"""

from __future__ import annotations

from carekey.domain.ids import new_id
from carekey.domain.referral import FollowupItem, Referral, Urgency, parse_closed_as, visit_code
from carekey.errors import Conflict, NotFound, msg
from carekey.policy.decision import Action
from carekey.services.access import authorize, log_access
from carekey.services.deps import Actor, Deps
from carekey.services.records import data_key, load_row
from carekey.services.visits import load_visit
from carekey.storage.protocols import ReferralRow


def referral_aad(referral_id: str, person_id: str) -> str:
    return f"referrals|{referral_id}|{person_id}|v1"


def _open(deps: Deps, key: bytes, row: ReferralRow) -> Referral:
    data = deps.crypto.open_json(key, row.ciphertext, referral_aad(row.id, row.person_id))
    assert isinstance(data, dict)
    closed_as = parse_closed_as(row.closed_as) if row.closed_as else None
    return Referral(
        row.id,
        row.person_id,
        row.visit_id,
        row.site_id,
        row.recorded_by,
        row.recorded_at,
        str(data["to_where"]),
        str(data["reason"]),
        Urgency(data["urgency"]),
        row.closed_at,
        row.closed_by,
        closed_as,
    )


def open_referrals(deps: Deps, key: bytes, rows: list[ReferralRow]) -> list[Referral]:
    """Open a person's referral rows with their data key (for the services that already authorized the read)."""
    return [_open(deps, key, r) for r in rows]


class ReferralService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def record(
        self, actor: Actor, visit_id: str, purpose: str | None, person_id: str, to_where: str, reason: str, urgency: str
    ) -> Referral:
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            authorize(uow, now, actor, Action.RECORD_REFERRAL, purpose, visit=visit, person_id=person_id)
            assert visit is not None
            referral = Referral.create(
                id=new_id("RF"),
                person_id=person_id,
                visit_id=visit.id,
                site_id=visit.site_id,
                recorded_by=actor.user_id,
                recorded_at=now,
                to_where=to_where,
                reason=reason,
                urgency=urgency,
            )
            key = data_key(self.d.crypto, load_row(uow, person_id))
            uow.referrals.add(
                ReferralRow(
                    referral.id,
                    person_id,
                    visit.id,
                    visit.site_id,
                    actor.user_id,
                    now,
                    self.d.crypto.seal_json(key, referral.payload(), referral_aad(referral.id, person_id)),
                )
            )
            if visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            uow.commit()
        return referral

    def for_person(self, actor: Actor, visit_id: str, purpose: str | None, person_id: str) -> list[Referral]:
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            authorize(uow, now, actor, Action.READ_REFERRALS, purpose, visit=visit, person_id=person_id)
            assert visit is not None
            key = data_key(self.d.crypto, load_row(uow, person_id))
            rows = uow.referrals.for_person(person_id)
            if visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            uow.commit()
        return open_referrals(self.d, key, rows)

    def followup(self, actor: Actor, site_id: str, purpose: str | None) -> list[FollowupItem]:
        """The open referrals made at ``site_id``, oldest first, as codes only."""
        now = self.d.clock()
        with self.d.uow() as uow:
            purpose_ok = authorize(uow, now, actor, Action.FOLLOWUP_LIST, purpose, site_id=site_id)
            rows = uow.referrals.open_at_site(site_id)
            for r in rows:  # each person listed sees it in their own access log
                log_access(
                    uow,
                    now,
                    actor,
                    "followup_list_result",
                    purpose_ok.value,
                    "granted",
                    "listed (code only) as having an open referral",
                    site_id,
                    r.person_id,
                )
            uow.commit()
        return [FollowupItem(r.id, r.person_id, visit_code(r.visit_id), r.recorded_at) for r in rows]

    def close(self, actor: Actor, referral_id: str, purpose: str | None, closed_as: str) -> None:
        """Close an open referral of one of the actor's sites (nothing sealed is read)."""
        how = parse_closed_as(closed_as)
        now = self.d.clock()
        with self.d.uow() as uow:
            row = uow.referrals.get(referral_id[:40])
            authorize(
                uow,
                now,
                actor,
                Action.CLOSE_REFERRAL,
                purpose,
                site_id=row.site_id if row else "-",
                person_id=row.person_id if row else None,
                detail=f": {how.value}",
            )
            if row is None:
                raise NotFound(msg("no referral %(referral)s", referral=referral_id[:40]))
            if not uow.referrals.close(row.id, now, actor.user_id, how.value):
                raise Conflict("this referral is already closed")
            uow.commit()
