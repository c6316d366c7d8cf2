"""Repository protocols and the unit of work. Services depend on these, never on SQLAlchemy.

Rows that hold personal data carry it only as ciphertext or keyed blind indexes; encryption and
decryption happen in the services (with ``carekey.crypto``), never in storage.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol

from carekey.audit.merkle import MerkleLog
from carekey.audit.promise import EntryPromise
from carekey.audit.sth import KeyRotation, SignedTreeHead
from carekey.domain.access import AccessEvent
from carekey.domain.program import Program, Site, User
from carekey.domain.visit import Visit
from carekey.stats.budget import Spend
from carekey.stats.published import ReleaseStore


@dataclass(frozen=True)
class PersonRow:
    id: str
    program_id: str
    card_bidx: str
    name_bidx: str
    birth_year_bidx: str
    village_bidx: str
    key_ref: str
    wrapped_key: bytes
    ciphertext: bytes
    enrolled_site: str
    enrolled_at: datetime
    last_seen_at: datetime
    pin_hash: str | None = None


@dataclass(frozen=True)
class ExamRow:
    id: str
    person_id: str
    visit_id: str
    site_id: str
    recorded_by: str
    recorded_at: datetime
    ciphertext: bytes


@dataclass(frozen=True)
class ReferralRow:
    id: str
    person_id: str
    visit_id: str
    site_id: str
    recorded_by: str
    recorded_at: datetime
    ciphertext: bytes
    closed_at: datetime | None = None
    closed_by: str | None = None
    closed_as: str | None = None


@dataclass(frozen=True)
class ConsentRow:
    id: str
    person_id: str
    version: int
    purpose: str
    granted: bool
    notice_version: str
    language: str
    grantor_kind: str
    grantor_ciphertext: bytes
    at: datetime
    site_id: str | None
    user_id: str | None


@dataclass(frozen=True)
class SessionRow:
    token_hash: str
    user_id: str | None
    person_id: str | None
    created_at: datetime
    expires_at: datetime


@dataclass
class LimitRow:
    """One login-limiter key (a keyed HMAC of the normalized account, card or address): attempts in the current
    window, lockouts so far and until when the key is locked."""

    key: str
    window_start: datetime
    attempts: int
    strikes: int
    locked_until: datetime | None
    last_seen: datetime
    failures: int = 0  # attempts since the last success, across windows (the cumulative lock)


@dataclass(frozen=True)
class TemplateRow:
    id: str
    person_id: str
    modality: str
    position: str
    key_version: int
    template: bytes
    created_at: datetime


@dataclass(frozen=True)
class ImageRow:
    """An enrollment image kept at the person's request (``biometric_image_retention``), sealed under their
    data key; linked to the template extracted from it (None once that template is deleted)."""

    id: str
    person_id: str
    template_id: str | None
    modality: str
    position: str
    key_version: int  # the biometric key version of the template last extracted from this image
    ciphertext: bytes
    created_at: datetime
    key_ref: str | None = None  # the person's image key (key store); None: sealed under the data key (before 0004)


@dataclass(frozen=True)
class FhirPushRow:
    """One queued push of a closed visit to the site's FHIR endpoint (no personal data: the Bundle is built at
    send time). ``status``: pending, sent, failed (gave up or refused by the server), cancelled (consent gone)."""

    id: str
    visit_id: str
    person_id: str
    site_id: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str = ""
    location: str | None = None


@dataclass(frozen=True)
class LogEntry:
    event: AccessEvent  # event.seq: the leaf index, None until the integrator hashed the entry into the tree
    salt: bytes | None
    leaf_input: bytes
    entry_id: int = 0  # database-generated at the append
    promise: EntryPromise | None = None  # the signed entry promise (None: logged before promises existed)


class ProgramRepository(Protocol):
    def add_program(self, program: Program, at: datetime) -> None: ...
    def get_program(self, program_id: str) -> Program | None: ...
    def list_programs(self) -> list[Program]: ...
    def add_site(self, site: Site) -> None: ...
    def get_site(self, site_id: str) -> Site | None: ...
    def list_sites(self) -> list[Site]: ...
    def lock(self, program_id: str) -> None: ...  # serializes enrollments of one program until the transaction ends


class UserRepository(Protocol):
    def add(self, user: User, password_hash: str, at: datetime) -> None: ...
    def get(self, user_id: str) -> User | None: ...
    def by_username(self, username: str) -> tuple[User, str] | None: ...
    def set_password(self, user_id: str, password_hash: str) -> None: ...
    def save(self, user: User) -> None: ...  # role, sites, active, changed_by, approved_by
    def get_language(self, user_id: str) -> str | None: ...  # the staff member's UI language (None: not chosen)
    def set_language(self, user_id: str, language: str) -> None: ...
    def end_sessions(self, user_id: str | None = None, person_id: str | None = None) -> int: ...
    def list(self) -> list[User]: ...
    def count(self) -> int: ...
    def add_session(self, row: SessionRow) -> None: ...
    def get_session(self, token_hash: str) -> SessionRow | None: ...
    def session_user(self, token_hash: str) -> tuple[SessionRow | None, User | None]: ...  # session + its account
    def delete_session(self, token_hash: str) -> None: ...
    def purge_sessions(self, now: datetime) -> int: ...


class PersonRepository(Protocol):
    def add(self, row: PersonRow) -> None: ...  # Conflict on a duplicate card
    def get(self, person_id: str) -> PersonRow | None: ...
    def by_card(self, program_id: str, card_bidx: str) -> PersonRow | None: ...
    def candidates(
        self, program_id: str, birth_year_bidxs: Sequence[str], village_bidx: str | None, limit: int
    ) -> list[PersonRow]: ...
    def by_name(self, program_id: str, name_bidx: str, limit: int) -> list[PersonRow]: ...
    def touch(self, person_id: str, at: datetime) -> None: ...
    def rewrite(
        self, person_id: str, ciphertext: bytes, name_bidx: str, birth_year_bidx: str, village_bidx: str
    ) -> None: ...  # noqa: E501
    def set_pin_hash(self, person_id: str, pin_hash: str | None) -> None: ...
    def in_program(self, program_id: str) -> list[PersonRow]: ...  # statistics only; never leaves a service
    def not_seen_since(self, before: datetime) -> list[str]: ...  # ids, for retention
    def delete(self, person_id: str) -> None: ...
    def count(self) -> int: ...


class VisitRepository(Protocol):
    def add(self, visit: Visit) -> None: ...
    def get(self, visit_id: str) -> Visit | None: ...
    def save(self, visit: Visit) -> None: ...
    def open_at(self, site_ids: Sequence[str], since: datetime) -> list[Visit]: ...  # oldest first
    def offer(self, visit_id: str, person_id: str, method: str) -> None: ...  # idempotent; first method kept
    def offers(self, visit_id: str) -> dict[str, str]: ...  # person id -> how this visit found them


class ExamRepository(Protocol):
    def add(self, row: ExamRow) -> None: ...
    def for_person(self, person_id: str) -> list[ExamRow]: ...


class ReferralRepository(Protocol):
    def add(self, row: ReferralRow) -> None: ...
    def get(self, referral_id: str) -> ReferralRow | None: ...
    def for_person(self, person_id: str) -> list[ReferralRow]: ...
    def open_at_site(self, site_id: str) -> list[ReferralRow]: ...
    def close(self, referral_id: str, at: datetime, by: str, closed_as: str) -> bool: ...  # False: already closed


class ConsentRepository(Protocol):
    def add(self, row: ConsentRow) -> None: ...
    def history(self, person_id: str) -> list[ConsentRow]: ...  # ordered by version
    def next_version(self, person_id: str) -> int: ...
    def latest_decisions(self, purpose: str) -> dict[str, bool]: ...  # person id -> latest is a grant


class AccessLogRepository(Protocol):
    def append(self, event: AccessEvent, salt: bytes, leaf_input: bytes) -> EntryPromise | int: ...  # no lock:
    # an id from the database, ``seq`` left to the integrator; returns the signed promise (or the id without signer)
    def lock_integration(self, wait: bool = True) -> bool: ...  # the integrator's lock, to the end of the txn
    def integrate(self, limit: int) -> int: ...  # under it: seq + tree nodes for committed pending entries
    def pending(self) -> int: ...  # entries not yet integrated
    def oldest_pending_ms(self) -> int | None: ...
    def promised(self, start_id: int, limit: int) -> list[LogEntry]: ...  # by id, integrated or not
    def latest(self, count: int = 1) -> list[LogEntry]: ...  # the last appended, oldest first
    def tree(self) -> MerkleLog: ...  # the Merkle tree over leaf_input, index = seq
    def leaves(self) -> list[tuple[int, bytes]]: ...  # (seq, leaf_input) of integrated entries, in seq order
    def size(self) -> int: ...  # integrated entries
    def entries(self, start: int, end: int) -> list[LogEntry]: ...  # integrated, by seq
    def for_person(self, person_id: str) -> list[LogEntry]: ...  # integrated or not, in append order
    def pseudonymize(self, person_id: str, pseudonym: str) -> int: ...  # on erasure: id -> pseudonym, salt dropped
    def count_since(self, actor_id: str, actions: Sequence[str], since: datetime) -> int: ...
    def lock_limits(self, actor_id: str | None, site_id: str | None) -> None: ...  # per-actor/site, to txn end
    def count_site_since(self, site_id: str, actions: Sequence[str], since: datetime) -> int: ...
    def count_person_since(self, person_id: str, actions: Sequence[str], outcome: str, since: datetime) -> int: ...
    def admin_counts(self) -> list[tuple[str, str, int]]: ...  # (action, YYYY-MM, count) of granted admin actions
    def refusal_counts(self) -> list[tuple[str, str, int]]: ...  # (purpose label, YYYY-MM, count)


class BiometricRepository(Protocol):
    def add(self, row: TemplateRow) -> None: ...
    def for_person(self, person_id: str) -> list[TemplateRow]: ...
    def by_modality(self, modality: str, program_id: str | None = None) -> list[TemplateRow]: ...
    def owners(self, template_ids: Sequence[str]) -> dict[str, str]: ...  # template id -> person id, stored ones
    def delete_for_person(self, person_id: str) -> int: ...
    def delete_position(self, person_id: str, modality: str, position: str) -> int: ...  # a recapture replaces it
    def delete_retired(
        self, key_version: int, person_id: str | None = None, modality: str | None = None
    ) -> int: ...  # delete templates of any other biometric key version (optionally one person's / modality's)
    def retired_person_ids(self, key_version: int) -> list[str]: ...  # people holding other-version templates
    def person_ids(self) -> list[str]: ...


class BiometricImageRepository(Protocol):
    def add(self, row: ImageRow) -> None: ...
    def for_person(self, person_id: str) -> list[ImageRow]: ...
    def count_for_person(self, person_id: str) -> int: ...
    def delete_for_person(self, person_id: str) -> int: ...
    def key_refs(self, person_id: str) -> list[str]: ...  # the person's image key reference(s)
    def delete_position(self, person_id: str, modality: str, position: str) -> int: ...
    # compare-and-set: only if the image still has key version ``was_version``; returns the rows updated (0 or 1)
    def relink(self, image_id: str, template_id: str | None, key_version: int, was_version: int) -> int: ...
    def person_ids(self) -> list[str]: ...
    def stale_person_ids(self, key_version: int) -> list[str]: ...  # people with images of another key version


class TreeHeadRepository(Protocol):
    def add(self, sth: SignedTreeHead) -> None: ...
    def latest(self) -> SignedTreeHead | None: ...
    def largest(self) -> SignedTreeHead | None: ...  # the head of the largest tree
    def all(self, start: int = 0, limit: int | None = None) -> list[SignedTreeHead]: ...
    def first_covering(self, index: int) -> SignedTreeHead | None: ...  # the first head signed over leaf index


class BudgetRepository(Protocol):  # carekey.stats.budget.BudgetStore
    def spends(self, program: str, period: str | None = None) -> Sequence[Spend]: ...
    def add(self, spend: Spend) -> None: ...


class FhirPushRepository(Protocol):
    def add(self, row: FhirPushRow) -> None: ...  # Conflict when the visit is already queued
    def get(self, push_id: str) -> FhirPushRow | None: ...
    def save(self, row: FhirPushRow) -> None: ...  # status, attempts, times, last answer
    def due(self, now: datetime, limit: int) -> list[FhirPushRow]: ...  # pending, next attempt <= now, oldest first
    def list(self, statuses: Sequence[str]) -> list[FhirPushRow]: ...  # oldest first
    def counts(self) -> builtins.list[tuple[str, str, int]]: ...  # (site id, status, count); `list` is a method here
    def requeue_failed(self, now: datetime) -> int: ...  # failed -> pending, attempts reset


class ShredQueue(Protocol):
    """Key-store secrets to destroy once the deletion naming them has committed (two-phase erasure)."""

    def schedule(self, key_ref: str) -> None: ...
    def resume(self) -> int: ...  # recovery: finish every pending secret at this unit of work's commit
    def pending(self) -> list[str]: ...


class KeyCheckRepository(Protocol):
    def all(self) -> dict[str, str]: ...  # key file name -> key-check value
    def put(self, name: str, value: str) -> None: ...


class LogKeyRotationRepository(Protocol):
    def add(self, rotation: KeyRotation) -> None: ...
    def all(self) -> list[KeyRotation]: ...


class LoginLimitRepository(Protocol):
    def lock(self, key: str, now: datetime) -> LimitRow: ...  # the key's row (created if new), locked until commit
    def save(self, row: LimitRow) -> None: ...
    def prune(self, now: datetime, idle: timedelta, keep: int) -> int: ...


@dataclass(frozen=True)
class NodeRow:
    """A site node registered with the central registry (issue 19)."""

    id: str
    site_id: str
    public_key: str
    log_public_key: str
    code_hash: str
    status: str
    registered_at: datetime
    approved_by: str | None = None
    confirmed_by: str | None = None
    revoked_at: datetime | None = None
    flag: str | None = None
    last_seq: int = 0
    last_hash: str = ""
    cursor: int = 0
    log_size: int = 0
    log_root: bytes | None = None
    log_head: str | None = None
    last_sync_at: datetime | None = None


@dataclass(frozen=True)
class FeedRow:
    seq: int
    person_id: str
    kind: str  # upsert, erase
    origin: str | None
    at: datetime


@dataclass(frozen=True)
class NodeStateRow:
    """A site node's own sync progress (one row; absent on a central registry)."""

    node_id: str
    seq: int
    acked_seq: int
    acked_hash: str
    feed_pushed: int
    log_pushed: int
    cursor: int
    last_sync_at: datetime | None
    lease_days: int
    created_at: datetime
    capture_key: str | None = None  # hex: the central capture public key (HPKE), from the first pull


@dataclass(frozen=True)
class CaptureRow:
    """A biometric capture made offline, sealed to the central capture key (never the image in the clear)."""

    id: str
    person_id: str
    visit_id: str
    modality: str
    position: str
    captured_by: str
    captured_at: datetime
    sealed: bytes


@dataclass(frozen=True)
class EditRow:
    """One demographic edit (append-only; merged per field at sync, docs/sync.md)."""

    id: str
    person_id: str
    field: str
    ciphertext: bytes  # the new value, sealed under the person's data key
    prev: str | None  # the edits of the field it replaced, comma-separated (None: the enrollment's value)
    at: datetime
    site_id: str | None
    user_id: str | None
    made_on: str  # "central" or the node id


@dataclass(frozen=True)
class TaskRow:
    """A task for the person's next visit on a node (docs/sync.md): a possible duplicate found by the central
    enrollment of an offline capture, or a capture to make again. ``detail`` is JSON with codes only (no names)."""

    id: str
    person_id: str
    capture_id: str | None
    kind: str
    detail: str
    created_at: datetime
    resolved_at: datetime | None = None
    resolution: str | None = None
    resolved_by: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    hash: str
    body: bytes
    created_at: datetime
    acked_at: datetime | None = None


class SyncRepository(Protocol):
    """Both sides of the sync (docs/sync.md). Changes to people, consents and exams enter the feed by themselves
    (the repositories write it); ``set_origin`` names where the changes of this unit of work came from."""

    def set_origin(self, origin: str | None) -> None: ...  # feed rows written from now on carry this origin
    def feed_head(self) -> int: ...
    def feed(self, after: int, limit: int) -> list[FeedRow]: ...
    def drop_feed(self, person_id: str, kind: str) -> None: ...
    def drop_erasures_until(self, seq: int) -> None: ...  # node: erasures put in a batch (the batch carries them)
    # central side
    def add_node(self, row: NodeRow) -> None: ...  # Conflict when the id exists
    def get_node(self, node_id: str) -> NodeRow | None: ...
    def lock_node(self, node_id: str) -> NodeRow | None: ...  # the row, locked to the end of the transaction
    def save_node(self, row: NodeRow) -> None: ...
    def list_nodes(self) -> list[NodeRow]: ...
    def pending_nodes(self, site_id: str) -> list[NodeRow]: ...  # registered, not yet approved, of that site
    def use_nonce(self, node_id: str, nonce: str, at: datetime, forget_before: datetime) -> bool: ...  # False: seen
    def batch(self, node_id: str, seq: int) -> tuple[str, str] | None: ...  # (hash, answer) of an applied batch
    def add_batch(self, node_id: str, seq: int, hash: str, at: datetime, answer: str) -> None: ...
    def hold(self, node_id: str, person_id: str) -> None: ...  # idempotent
    def holds(self, node_id: str, person_id: str) -> bool: ...
    def release(self, node_id: str, person_id: str) -> None: ...
    def holders(self, person_id: str) -> list[str]: ...
    def held_by(self, node_id: str) -> list[str]: ...
    def erased_at_or_before(self, person_id: str, seq: int) -> bool: ...  # an erase feed row at or before seq
    def node_leaves(self, node_id: str) -> list[bytes]: ...
    def add_node_leaves(self, node_id: str, start: int, leaves: Sequence[bytes]) -> None: ...
    # node side
    def node_state(self) -> NodeStateRow | None: ...
    def save_node_state(self, row: NodeStateRow) -> None: ...  # insert or update
    def add_outbox(self, row: OutboxRow) -> None: ...
    def outbox(self) -> list[OutboxRow]: ...  # unacknowledged, oldest first
    def ack_outbox(self, seq: int, at: datetime) -> None: ...
    def visits_of(self, person_id: str) -> list[Visit]: ...  # the person's visits, oldest first
    def add_capture(self, row: CaptureRow) -> None: ...  # node: a sealed offline capture
    def take_captures(self) -> list[CaptureRow]: ...  # node: every one, deleted (they go into a batch)
    def receive_capture(self, node_id: str, row: CaptureRow, at: datetime) -> None: ...  # central (idempotent)
    def drop_captures(self, person_id: str) -> int: ...  # both sides: the person's sealed captures, deleted
    def received_captures(self) -> list[tuple[str, CaptureRow]]: ...  # central: (node id, capture), oldest first
    def received_capture(self, capture_id: str) -> tuple[str, CaptureRow] | None: ...  # central: (node id, capture)
    def drop_capture(self, capture_id: str) -> None: ...  # central: enrolled or refused (the sealed image goes)
    def save_task(self, row: TaskRow) -> None: ...  # both: insert or update; the person's record enters the feed
    def tasks_of(self, person_id: str) -> list[TaskRow]: ...  # both: oldest first
    def add_disclosure(self, node_id: str, idx: int, person_id: str, sealed: bytes) -> None: ...  # central
    def disclosures_of(self, person_id: str) -> list[tuple[str, int, bytes]]: ...  # central: (node, index, sealed)
    def add_edit(self, row: EditRow) -> None: ...  # both: a demographic edit; the person's record enters the feed
    def edits_of(self, person_id: str) -> list[EditRow]: ...  # both: by time
    def open_tasks(self, kind: str) -> list[TaskRow]: ...  # both: unresolved tasks of a kind (the review list)


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``with`` block without ``commit()`` rolls everything back.
    ``commit()`` may be called more than once: it commits and starts a new transaction."""

    programs: ProgramRepository
    users: UserRepository
    people: PersonRepository
    visits: VisitRepository
    exams: ExamRepository
    referrals: ReferralRepository
    consents: ConsentRepository
    access_log: AccessLogRepository
    biometrics: BiometricRepository
    images: BiometricImageRepository
    tree_heads: TreeHeadRepository
    login_limits: LoginLimitRepository
    budget: BudgetRepository
    fhir_pushes: FhirPushRepository
    releases: ReleaseStore  # carekey.stats.published: released statistics and their DHIS2 push
    shreds: ShredQueue
    key_checks: KeyCheckRepository
    log_keys: LogKeyRotationRepository
    sync: SyncRepository

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
