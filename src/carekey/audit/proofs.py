"""Self-contained proofs to hand out (patient portal, auditor API) and check anywhere.

An ``InclusionReceipt`` says "this access entry is leaf ``index`` of the log whose signed tree head is
``sth``": it carries the leaf input, the audit path and the signed head, so a person can check it with the
log's public key alone. A ``ConsistencyReceipt`` links two signed heads (the newer tree extends the older).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from carekey.audit import leaf
from carekey.audit.merkle import MerkleLog, leaf_hash, verify_consistency, verify_inclusion
from carekey.audit.promise import EntryPromise
from carekey.audit.sth import SignedTreeHead, key_id


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(x).decode() for x in items]


def _unb64(items: object) -> list[bytes]:
    if not isinstance(items, list):
        raise ValueError("proof must be a list of base64 hashes")
    return [base64.b64decode(str(x), validate=True) for x in items]


@dataclass(frozen=True)
class InclusionReceipt:
    index: int
    leaf_input: bytes
    path: list[bytes]
    sth: SignedTreeHead

    @classmethod
    def issue(cls, log: MerkleLog, index: int, leaf_input: bytes, sth: SignedTreeHead) -> InclusionReceipt:
        """Proof that entry ``index`` (whose stored input is ``leaf_input``) is in the tree signed by ``sth``."""
        return cls(index, leaf_input, log.inclusion_proof(index, sth.size), sth)

    def verify(self, public_key: bytes) -> bool:
        return self.sth.verify(public_key) and verify_inclusion(
            leaf_hash(self.leaf_input), self.index, self.sth.size, self.path, self.sth.root
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "leaf_index": self.index,
            "leaf_input": base64.b64encode(self.leaf_input).decode(),
            "audit_path": _b64(self.path),
            "signed_tree_head": self.sth.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> InclusionReceipt:
        try:
            return cls(
                int(str(data["leaf_index"])),
                base64.b64decode(str(data["leaf_input"]), validate=True),
                _unb64(data["audit_path"]),
                SignedTreeHead.from_dict(_object(data["signed_tree_head"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed inclusion receipt: {exc}") from exc


@dataclass(frozen=True)
class ConsistencyReceipt:
    old: SignedTreeHead
    new: SignedTreeHead
    path: list[bytes]

    @classmethod
    def issue(cls, log: MerkleLog, old: SignedTreeHead, new: SignedTreeHead) -> ConsistencyReceipt:
        return cls(old, new, log.consistency_proof(old.size, new.size))

    def verify(self, public_key: bytes) -> bool:
        return (
            self.old.verify(public_key)
            and self.new.verify(public_key)
            and verify_consistency(self.old.size, self.new.size, self.old.root, self.new.root, self.path)
        )

    def to_dict(self) -> dict[str, object]:
        return {"old": self.old.to_dict(), "new": self.new.to_dict(), "consistency_path": _b64(self.path)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ConsistencyReceipt:
        try:
            return cls(
                SignedTreeHead.from_dict(_object(data["old"])),
                SignedTreeHead.from_dict(_object(data["new"])),
                _unb64(data["consistency_path"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed consistency receipt: {exc}") from exc


def access_receipt(event: dict[str, object], salt: bytes | None, receipt: InclusionReceipt) -> dict[str, object]:
    """What a person is shown for one access: the event, its salt, and the inclusion receipt."""
    return {
        "seq": receipt.index,
        "event": dict(event),
        "salt": base64.b64encode(salt).decode() if salt else None,
        "receipt": receipt.to_dict(),
    }


def verify_access_receipt(data: dict[str, object], public_key: bytes) -> bool:
    """Check an access as shown to the person, with the log's public key only: the salted event matches the
    leaf (``carekey.audit.leaf``), the leaf is in the signed tree, and the tree head is signed by the key."""
    try:
        receipt = InclusionReceipt.from_dict(_object(data["receipt"]))
        salt = base64.b64decode(str(data["salt"]), validate=True)
        event = data["event"]
        if not isinstance(event, dict):
            return False
        committed = leaf.leaf_input(event, salt)
        promise = EntryPromise.from_dict(_object(data["promise"])) if data.get("promise") is not None else None
    except (KeyError, TypeError, ValueError):
        return False
    if promise is not None and not (
        promise.covers(committed) and (promise.key_id != key_id(public_key) or promise.verify(public_key))
    ):
        return False  # a promise shown with the access must name its leaf (and verify, when signed by this key)
    return committed == receipt.leaf_input and receipt.verify(public_key)


def _object(value: object) -> dict[str, object]:
    """A JSON object of a receipt (TypeError, reported as a malformed receipt, for anything else)."""
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value
