"""Public transparency: refused requests by purpose and month, signed tree heads of the access log, and
consistency proofs between published heads (no personal data anywhere here)."""

from __future__ import annotations

from dataclasses import dataclass

from carekey.audit.sth import SignedTreeHead
from carekey.errors import InvalidInput, NotFound
from carekey.services.deps import Deps
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
        return {"signed_tree_head": self.sth.to_dict(), "public_key": self.public_key.hex(),
                "key_id": self.sth.key_id.hex(), "algorithm": "Ed25519",
                "signed_bytes": "b'carekey-sth-v1\\x00' || uint64 timestamp_ms || uint64 tree_size || root_hash"}


def publish_head(uow: UnitOfWork, deps: Deps) -> SignedTreeHead:
    """The latest signed tree head, signing a new one first when the log has grown since (inside the caller's
    unit of work, which holds the log lock if it appended: the head covers exactly what it sees)."""
    if deps.signer is None:
        raise NotFound("this carekey instance has no log signing key")
    tree = uow.access_log.tree()
    latest = uow.tree_heads.latest()
    if latest is not None and latest.size == tree.size and latest.key_id == deps.signer.key_id:
        return latest
    sth = deps.signer.sign(tree.size, tree.root(), int(deps.clock().timestamp() * 1000))
    uow.tree_heads.add(sth)
    return sth


class TransparencyService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def refusals(self) -> list[RefusalCount]:
        with self.d.uow() as uow:
            return [RefusalCount(p, m, n) for p, m, n in uow.access_log.refusal_counts()]

    def admin_actions(self) -> list[AdminActionCount]:
        """Every admin action (accounts created, approved, changed, reset, deactivated; programs, sites, keys),
        counted by kind and month: the admin's own power is on the public page too."""
        with self.d.uow() as uow:
            return [AdminActionCount(a, m, n) for a, m, n in uow.access_log.admin_counts()]

    def tree_head(self) -> PublishedHead:
        """Sign a head for the current log if it grew (on demand), store it, and return it with the key."""
        with self.d.uow() as uow:
            sth = publish_head(uow, self.d)
            uow.commit()
        assert self.d.signer is not None
        return PublishedHead(sth, self.d.signer.public_key)

    def publish_if_due(self) -> SignedTreeHead | None:
        """After a batch of writes: sign a head if the log grew and the latest head is older than
        ``Settings.tree_head_seconds``. Returns the new head, or None when none was due."""
        if self.d.signer is None:
            return None
        now_ms = int(self.d.clock().timestamp() * 1000)
        with self.d.uow() as uow:
            latest = uow.tree_heads.latest()
            if latest is not None and (latest.size == uow.access_log.size() or
                                       now_ms - latest.head.timestamp_ms < self.d.settings.tree_head_seconds * 1000):
                return None
            sth = publish_head(uow, self.d)
            uow.commit()
        return sth

    def heads(self) -> list[SignedTreeHead]:
        with self.d.uow() as uow:
            return uow.tree_heads.all()

    def consistency(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes (to link two published heads)."""
        with self.d.uow() as uow:
            tree = uow.access_log.tree()
            if not 0 <= first <= second <= tree.size:
                raise InvalidInput(f"need 0 <= first <= second <= {tree.size} (the log size)")
            return tree.consistency_proof(first, second)
