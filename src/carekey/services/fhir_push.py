"""Push a closed visit to the clinic's EMR as a FHIR R4 transaction Bundle, with the person's consent.

1. ``visit_closed`` (called once by ``VisitService.close``): when the visit served a person who has granted
   ``ehr_sharing`` (and ``care_record``) and the site has a FHIR endpoint (``Settings.fhir_endpoint``), a push is
   queued (table ``fhir_pushes``: ids and delivery state only, never the Bundle) and tried at once.
2. Every attempt is a policy decision (action ``ehr_push``, purpose ``ehr_sharing``) logged in the transparency
   log and COMMITTED before the Bundle is built and leaves: a consent withdrawn since the visit denies the
   attempt (logged) and cancels the push, so revoking stops every further push.
3. The Bundle is POSTed to the endpoint's base URL (a FHIR transaction). 2xx: sent (the Location header kept).
   No answer, 408, 429, 5xx: retried with exponential backoff (``fhir_retry_seconds`` doubled per attempt) up to
   ``fhir_max_attempts``, then failed. Other 4xx: failed at once (the server refuses this Bundle; resending the
   same bytes cannot help). Failed pushes stay visible in the queue until an admin requeues them.
4. ``send_due`` (``carekey fhir send``) retries what is due; ``queue`` shows counts (and, for the CLI, the
   items without person or visit ids). Both are admin operations, decided by the policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TypedDict

import httpx

from carekey import __version__
from carekey.domain.ids import new_id
from carekey.domain.purposes import Purpose
from carekey.domain.visit import Visit
from carekey.errors import ConsentMissing, NotFound
from carekey.fhir import bundles
from carekey.policy.decision import Action
from carekey.services.access import authorize, consents_of
from carekey.services.deps import Actor, Deps
from carekey.services.records import data_key, load_row, open_consent, open_exam, open_person
from carekey.storage.protocols import FhirPushRow, UnitOfWork

EHR = Purpose.EHR_SHARING
STATUSES = ("pending", "sent", "failed", "cancelled")
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Answer:
    """What the endpoint said: its HTTP status (None: no answer) and Location header, or a short error."""

    status: int | None
    location: str | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in (408, 429) or self.status >= 500


Sender = Callable[[str, bytes, float], Answer]


@lru_cache(maxsize=1)
def _client() -> httpx.Client:
    """One pooled client for every push (building a TLS context costs ~150 ms: not once per push)."""
    return httpx.Client(
        headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, "User-Agent": f"carekey/{__version__}"}
    )


def http_send(url: str, body: bytes, timeout: float) -> Answer:
    """POST a transaction Bundle to a FHIR base URL. The server's answer body is never kept (it may echo data)."""
    try:
        r = _client().post(url, content=body, timeout=timeout)
    except httpx.HTTPError as err:
        return Answer(None, error=f"no answer: {type(err).__name__}")
    return Answer(r.status_code, r.headers.get("location"), "" if r.is_success else f"HTTP {r.status_code}")


class QueueItem(TypedDict):
    """One row of the queue as the CLI shows it."""

    id: str
    site_id: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str


@dataclass(frozen=True)
class QueueView:
    counts: dict[str, dict[str, int]]  # site id -> status -> count
    items: list[QueueItem]  # pending and failed pushes, without person or visit ids (CLI only)


class FhirPushService:
    def __init__(self, deps: Deps, sender: Sender = http_send) -> None:
        self.d = deps
        self.send = sender

    # -- queueing ----------------------------------------------------------------------------------------
    def visit_closed(self, actor: Actor, visit: Visit) -> FhirPushRow | None:
        """Queue (and try once) the push of a just-closed visit; None when nothing is to be sent."""
        if visit.person_id is None or self.d.settings.fhir_endpoint(visit.site_id) is None:
            return None
        now = self.d.clock()
        with self.d.uow() as uow:
            if not {EHR, Purpose.CARE_RECORD} <= consents_of(uow, visit.person_id):
                return None  # no consent, no push (nothing queued, nothing read)
            row = FhirPushRow(new_id("FP"), visit.id, visit.person_id, visit.site_id, "pending", 0, now, now)
            uow.fhir_pushes.add(row)
            uow.commit()
        return self.attempt(actor, row.id)

    # -- sending -----------------------------------------------------------------------------------------
    def attempt(self, actor: Actor, push_id: str) -> FhirPushRow:
        """One attempt: decide and log, build the Bundle from the record, send, record the answer."""
        now = self.d.clock()
        with self.d.uow() as uow:
            row = uow.fhir_pushes.get(push_id)
            if row is None:
                raise NotFound(f"no FHIR push {push_id}")
            if row.status != "pending":
                return row
            try:
                authorize(uow, now, actor, Action.EHR_PUSH, EHR.value, site_id=row.site_id, person_id=row.person_id)
            except ConsentMissing as err:  # the denial is logged and committed by authorize
                return self._save(
                    uow,
                    replace(row, status="cancelled", last_attempt_at=now, next_attempt_at=None, last_error=err.message),
                )
            endpoint = self.d.settings.fhir_endpoint(row.site_id)
            if endpoint is None:
                uow.rollback()  # nothing leaves: the grant entry is not kept
                return self._save(
                    uow,
                    replace(
                        row,
                        status="failed",
                        last_attempt_at=now,
                        next_attempt_at=None,
                        last_error=f"no FHIR endpoint configured for site {row.site_id}",
                    ),
                )
            body = self._bundle_json(uow, row)
            uow.commit()  # the log entry is durable before the data leaves
        answer = self.send(endpoint, body, self.d.settings.fhir_timeout_seconds)
        return self._record(push_id, answer)

    def _bundle_json(self, uow: UnitOfWork, row: FhirPushRow) -> bytes:
        person_row = load_row(uow, row.person_id)
        key = data_key(self.d.crypto, person_row)
        visit, site = uow.visits.get(row.visit_id), uow.programs.get_site(row.site_id)
        if visit is None or site is None:
            raise NotFound(f"the visit or site of FHIR push {row.id} is gone")
        exams = [
            open_exam(self.d.crypto, key, e) for e in uow.exams.for_person(row.person_id) if e.visit_id == row.visit_id
        ]
        consents = [open_consent(self.d.crypto, key, c) for c in uow.consents.history(row.person_id)]
        bundle = bundles.visit_bundle(
            open_person(self.d.crypto, person_row, key),
            person_row.program_id,
            site,
            visit,
            exams,
            consents,
            self.d.clock(),
        )
        return json.dumps(bundles.to_dict(bundle), ensure_ascii=False).encode()

    def _record(self, push_id: str, answer: Answer) -> FhirPushRow:
        now, s = self.d.clock(), self.d.settings
        with self.d.uow() as uow:
            row = uow.fhir_pushes.get(push_id)
            if row is None:  # the person was erased meanwhile (cascade)
                raise NotFound(f"no FHIR push {push_id}")
            attempts = row.attempts + 1
            done = replace(
                row,
                attempts=attempts,
                last_attempt_at=now,
                last_status=answer.status,
                last_error=answer.error,
                location=answer.location,
            )
            if answer.ok:
                done = replace(done, status="sent", next_attempt_at=None)
            elif answer.retryable and attempts < s.fhir_max_attempts:
                delay = timedelta(seconds=s.fhir_retry_seconds * 2 ** (attempts - 1))
                done = replace(done, next_attempt_at=now + delay)
            else:
                done = replace(done, status="failed", next_attempt_at=None)
            return self._save(uow, done)

    @staticmethod
    def _save(uow: UnitOfWork, row: FhirPushRow) -> FhirPushRow:
        uow.fhir_pushes.save(row)
        uow.commit()
        return row

    # -- the admin's view and retry run --------------------------------------------------------------------
    def _admin(self, uow: UnitOfWork, actor: Actor) -> None:
        authorize(uow, self.d.clock(), actor, Action.ADMINISTER, Purpose.ADMINISTRATION.value)

    def send_due(self, actor: Actor, retry_failed: bool = False, limit: int = 100) -> list[FhirPushRow]:
        """Attempt every pending push whose time has come (``retry_failed``: requeue the failed ones first)."""
        with self.d.uow() as uow:
            self._admin(uow, actor)
            if retry_failed:
                uow.fhir_pushes.requeue_failed(self.d.clock())
            due = uow.fhir_pushes.due(self.d.clock(), limit)
            uow.commit()
        out = []
        for row in due:
            try:
                out.append(self.attempt(actor, row.id))
            except NotFound:  # erased or gone since it was listed
                continue
        return out

    def queue(self, actor: Actor) -> QueueView:
        with self.d.uow() as uow:
            self._admin(uow, actor)
            counts: dict[str, dict[str, int]] = {}
            for site, status, n in uow.fhir_pushes.counts():
                counts.setdefault(site, dict.fromkeys(STATUSES, 0))[status] = n
            rows = uow.fhir_pushes.list(("pending", "failed"))
            uow.commit()
        items: list[QueueItem] = [
            {
                "id": r.id,
                "site_id": r.site_id,
                "status": r.status,
                "attempts": r.attempts,
                "created_at": r.created_at,
                "next_attempt_at": r.next_attempt_at,
                "last_status": r.last_status,
                "last_error": r.last_error,
            }
            for r in rows
        ]
        return QueueView(counts, items)
