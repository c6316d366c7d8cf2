"""Public transparency: refused requests by purpose and month, signed tree heads of the access log, and
consistency proofs between published heads (no personal data anywhere here); and the log's integrator
(``integrate``): entries are committed by requests without a lock, each with a signed entry promise, and hashed
into the Merkle tree here, in batches, under a short lock, within the maximum merge delay (docs/architecture.md,
"Transparency log").

The log never shrinks under its signer: before signing (and at server start, ``check_log``) the current tree
must extend the largest head held in the database *and* in the heads file outside it (``carekey.storage.heads``):
same root at that size (RFC 9162 consistency, checked directly on the stored nodes). A cut tail, deleted heads
or an entry rewritten with rebuilt nodes therefore stop signing (IntegrityError) instead of being signed over.
Every new head is appended to the heads file after its transaction commits (``record_heads``)."""

from __future__ import annotations

from dataclasses import dataclass

from carekey.audit.merkle import MerkleLog, ProofError
from carekey.audit.sth import SignedTreeHead
from carekey.errors import IntegrityError, InvalidInput, NotFound
from carekey.services.deps import Deps
from carekey.storage.heads import HeadsFileError
from carekey.storage.protocols import UnitOfWork


@dataclass(frozen=True)
class RefusalCount:
    purpose: str
    month: str  # YYYY-MM
    count: int


@dataclass(frozen=True)
class AdminActionCount:
    action: str  # e.g. admin_add_user, admin_approve_user, admin_reset_password
    month: str  # YYYY-MM
    count: int


@dataclass(frozen=True)
class PublishedHead:
    sth: SignedTreeHead
    public_key: bytes  # raw Ed25519 public key: all anyone needs to check heads and receipts

    def to_dict(self) -> dict[str, object]:
        return {
            "signed_tree_head": self.sth.to_dict(),
            "public_key": self.public_key.hex(),
            "key_id": self.sth.key_id.hex(),
            "algorithm": "Ed25519",
            "signed_bytes": "b'carekey-sth-v1\\x00' || uint64 timestamp_ms || uint64 tree_size || root_hash",
        }


def _largest_file_head(deps: Deps, db_has_heads: bool) -> SignedTreeHead | None:
    if deps.heads is None:
        return None
    if not deps.heads.exists():
        if db_has_heads:
            raise IntegrityError(
                f"the heads file {deps.heads.path} is missing but the database holds signed tree "
                "heads: restore it from a backup (or, for a data folder older than the heads file, "
                "run `carekey log adopt-heads`); no head is signed until then"
            )
        return None
    try:
        return deps.heads.largest()
    except (OSError, HeadsFileError) as err:
        raise IntegrityError(f"the heads file cannot be read: {err}") from None


def check_extends(tree: MerkleLog, heads: list[SignedTreeHead]) -> None:
    """IntegrityError unless the tree extends every given head (its root at the head's size is the head's)."""
    for head in heads:
        try:
            ok = head.size <= tree.size and tree.root(head.size) == head.root
        except (KeyError, ProofError):  # a node missing below the size the store claims
            ok = False
        if not ok:
            raise IntegrityError(
                f"the access log ({tree.size} entries) does not extend the signed tree head of size {head.size}: "
                "entries were removed or rewritten; run `carekey log verify` and restore the database from a "
                "backup. No tree head is signed until then"
            )


def check_log(uow: UnitOfWork, deps: Deps) -> MerkleLog:
    """The current tree, after checking that it extends the largest head in the database and in the heads file."""
    tree = uow.access_log.tree()
    latest = uow.tree_heads.latest()
    largest_db = uow.tree_heads.largest() if latest is not None else None
    check_extends(
        tree, [h for h in (latest, largest_db, _largest_file_head(deps, latest is not None)) if h is not None]
    )
    return tree


#: entries integrated per statement batch (one integration transaction loops over batches)
INTEGRATE_BATCH = 2000


def integrate(uow: UnitOfWork, deps: Deps, wait: bool = True) -> SignedTreeHead | None:
    """The integrator: under the log lock (to the end of ``uow``'s transaction), hash every committed entry not
    yet in the tree (and those appended earlier in ``uow`` itself) into it, giving them their leaf index, and
    sign a tree head over the result (``publish_head``). Returns the latest head; None when ``wait`` is False and
    another integrator holds the lock (it will integrate what is waiting). Idempotent (only entries without a
    leaf index are taken) and crash-safe (indexes, nodes and the head commit together, or not at all). Refuses
    (IntegrityError) a tree smaller than, or inconsistent with, a head signed before."""
    if deps.signer is None:
        raise NotFound("this carekey instance has no log signing key")
    if not uow.access_log.lock_integration(wait):
        return None
    check_log(uow, deps)  # before growing it: never extend (and sign over) a cut or rewritten tree
    while uow.access_log.integrate(INTEGRATE_BATCH) == INTEGRATE_BATCH:
        pass
    return _sign_if_grown(uow, deps, uow.access_log.tree())


def publish_head(uow: UnitOfWork, deps: Deps) -> SignedTreeHead:
    """The latest signed tree head, after integrating every committed entry (and those of ``uow``): the head
    covers everything logged before, this very request's entries included. The caller appends a new head to the
    heads file after committing (``record_heads``)."""
    sth = integrate(uow, deps)
    assert sth is not None
    return sth


def _sign_if_grown(uow: UnitOfWork, deps: Deps, tree: MerkleLog) -> SignedTreeHead:
    assert deps.signer is not None
    latest = uow.tree_heads.latest()
    if latest is not None and latest.size == tree.size and latest.key_id == deps.signer.key_id:
        return latest
    sth = deps.signer.sign(tree.size, tree.root(), int(deps.clock().timestamp() * 1000))
    uow.tree_heads.add(sth)
    return sth


def record_heads(deps: Deps, sth: SignedTreeHead) -> None:
    """After the commit that stored ``sth``: append it to the heads file (a repeat of the last one is skipped)."""
    if deps.heads is not None:
        deps.heads.append(sth)


class TransparencyService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self._seen_ms = 0  # timestamp of the newest head this process signed or read (publish_if_due)

    def refusals(self) -> list[RefusalCount]:
        with self.d.uow(read_only=True) as uow:
            return [RefusalCount(p, m, n) for p, m, n in uow.access_log.refusal_counts()]

    def admin_actions(self) -> list[AdminActionCount]:
        """Every admin action (accounts created, approved, changed, reset, deactivated; programs, sites, keys),
        counted by kind and month: the admin's own power is on the public page too."""
        with self.d.uow(read_only=True) as uow:
            return [AdminActionCount(a, m, n) for a, m, n in uow.access_log.admin_counts()]

    def tree_head(self) -> PublishedHead:
        """Sign a head for the current log if it grew (on demand), store it, and return it with the key."""
        with self.d.uow() as uow:
            sth = publish_head(uow, self.d)
            uow.commit()
        record_heads(self.d, sth)
        assert self.d.signer is not None
        return PublishedHead(sth, self.d.signer.public_key)

    def public_key(self) -> bytes:
        if self.d.signer is None:
            raise NotFound("this carekey instance has no log signing key")
        return self.d.signer.public_key

    def check_log(self) -> None:
        """At start: IntegrityError when the stored log does not extend the heads signed before (database and
        heads file); the server then refuses to start rather than sign over a cut or rewritten log."""
        if self.d.signer is None:
            return
        with self.d.uow(read_only=True) as uow:
            check_log(uow, self.d)

    def integrate(self, wait: bool = True) -> SignedTreeHead | None:
        """Integrate every committed log entry into the tree and sign a head over it, in a short transaction of
        its own (the background integrator, ``carekey log`` commands, tests that need a proof at once). Returns
        the head signed now, or None when nothing was waiting (or, ``wait`` False, another integrator is at
        work)."""
        if self.d.signer is None:
            return None
        with self.d.uow() as uow:
            before = uow.tree_heads.latest()
            if (
                before is not None
                and before.key_id == self.d.signer.key_id
                and uow.access_log.pending() == 0
                and before.size == uow.access_log.size()
            ):
                return None
            sth = integrate(uow, self.d, wait)
            uow.commit()
        if sth is None or sth == before:
            return None
        record_heads(self.d, sth)
        self._seen_ms = max(self._seen_ms, sth.head.timestamp_ms)
        return sth

    def may_be_due(self) -> bool:
        """False while the newest head this process saw is younger than ``Settings.tree_head_seconds``: then
        ``publish_if_due`` would return at once. In memory only (the API checks it on the event loop)."""
        if self.d.signer is None:
            return False
        now_ms = int(self.d.clock().timestamp() * 1000)
        return now_ms - self._seen_ms >= self.d.settings.tree_head_seconds * 1000

    def publish_if_due(self, force: bool = False) -> SignedTreeHead | None:
        """After a request (and when a server or CLI command ends, ``force``): integrate waiting entries and sign
        a head if the latest head is older than ``Settings.tree_head_seconds`` (``force``: whatever its age).
        Returns the new head, or None when none was due. While the newest head this process saw is young, no
        database is read (the background integrator, ``integrate``, keeps the maximum merge delay)."""
        if self.d.signer is None:
            return None
        now_ms = int(self.d.clock().timestamp() * 1000)
        period = self.d.settings.tree_head_seconds * 1000
        if not force and now_ms - self._seen_ms < period:
            return None
        with self.d.uow(read_only=True) as uow:  # is one due? a read, no write lock (SQLite)
            latest = uow.tree_heads.latest()
            if latest is not None:
                self._seen_ms = max(self._seen_ms, latest.head.timestamp_ms)
            if latest is not None and not force and now_ms - latest.head.timestamp_ms < period:
                return None
            if (
                latest is not None
                and self.d.signer is not None
                and latest.key_id == self.d.signer.key_id
                and uow.access_log.pending() == 0
                and latest.size == uow.access_log.size()
            ):
                return None  # nothing new to sign: no write transaction at all
        return self.integrate()

    def heads(self, start: int = 0, limit: int | None = None) -> list[SignedTreeHead]:
        """Signed tree heads in the order they were signed (``start`` skips the first ones)."""
        with self.d.uow(read_only=True) as uow:
            return uow.tree_heads.all(start, limit)

    def adopt_heads(self) -> int:
        """Upgrade path for a data folder older than the heads file: create it from the database's heads (after
        checking that the log extends them). Refused when the file exists. Returns the number of heads written."""
        assert self.d.heads is not None
        if self.d.heads.exists():
            raise InvalidInput(f"{self.d.heads.path} exists; it is never rewritten")
        with self.d.uow(read_only=True) as uow:
            heads = uow.tree_heads.all()
            check_extends(uow.access_log.tree(), heads)
        self.d.heads.create()
        for sth in heads:
            self.d.heads.append(sth)
        return len(heads)

    def consistency(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes (to link two published heads)."""
        self.integrate()
        with self.d.uow(read_only=True) as uow:
            tree = uow.access_log.tree()
            if not 0 <= first <= second <= tree.size:  # no such pair of trees (yet): nothing to prove
                raise NotFound(
                    f"no consistency proof from size {first} to size {second}: need 0 <= first <= second "
                    f"<= {tree.size} (the log size)"
                )
            return tree.consistency_proof(first, second)
