"""Signed entry promises: the log's word, given at response time, that an entry will be in a signed tree head
within the maximum merge delay.

This is the Signed Certificate Timestamp of Certificate Transparency (RFC 6962 section 3.2, RFC 9162 section
4.8 and its Maximum Merge Delay): an access's log entry is committed to the database before the access returns,
but it is hashed into the Merkle tree later, in batches, by the integrator (``carekey.services.transparency``).
The promise binds the entry's id (database-generated), its leaf hash, the time it was logged and the delay,
under the log key. An auditor (``carekey log verify``) or the person (their access view) later checks that the
promised leaf is in a signed tree head whose timestamp is at most ``timestamp_ms + max_delay_ms``; a promise
whose entry is missing, or integrated late, convicts the log operator (the signature is the evidence).

Signed bytes (fixed binary layout of our own):

    b"carekey-promise-v1\\x00" || uint64 entry_id || uint64 timestamp_ms || uint64 max_delay_ms || leaf_hash
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from carekey.audit.leaf import leaf_hash
from carekey.audit.merkle import HASH_SIZE
from carekey.audit.sth import LogSigner, SignedTreeHead, verify_signature

PROMISE_PREFIX = b"carekey-promise-v1\x00"


def promise_bytes(entry_id: int, timestamp_ms: int, max_delay_ms: int, digest: bytes) -> bytes:
    if len(digest) != HASH_SIZE:
        raise ValueError("a leaf hash is 32 bytes")
    return PROMISE_PREFIX + struct.pack(">QQQ", entry_id, timestamp_ms, max_delay_ms) + digest


@dataclass(frozen=True)
class EntryPromise:
    entry_id: int
    leaf_hash: bytes
    timestamp_ms: int
    max_delay_ms: int
    signature: bytes
    key_id: bytes

    @property
    def deadline_ms(self) -> int:
        """The latest timestamp of a signed tree head that may first include the entry."""
        return self.timestamp_ms + self.max_delay_ms

    def verify(self, public_key: bytes | Mapping[bytes, bytes]) -> bool:
        """The signature is valid and made by the given key (or by the trusted key its key id names)."""
        key = public_key.get(self.key_id, b"") if isinstance(public_key, Mapping) else public_key
        try:
            data = promise_bytes(self.entry_id, self.timestamp_ms, self.max_delay_ms, self.leaf_hash)
        except (ValueError, struct.error):
            return False
        return verify_signature(key, self.signature, data)

    def covers(self, leaf_input: bytes) -> bool:
        return leaf_hash(leaf_input) == self.leaf_hash

    def kept_by(self, head: SignedTreeHead | None) -> bool:
        """``head`` is the first signed head including the entry: the promise is kept when it exists and is
        not later than the deadline."""
        return head is not None and head.head.timestamp_ms <= self.deadline_ms

    def to_dict(self) -> dict[str, object]:
        return {
            "entry_id": self.entry_id,
            "leaf_hash": base64.b64encode(self.leaf_hash).decode(),
            "timestamp_ms": self.timestamp_ms,
            "max_delay_ms": self.max_delay_ms,
            "signature": base64.b64encode(self.signature).decode(),
            "key_id": self.key_id.hex(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> EntryPromise:
        try:
            return cls(
                _integer(data["entry_id"]),
                base64.b64decode(str(data["leaf_hash"]), validate=True),
                _integer(data["timestamp_ms"]),
                _integer(data["max_delay_ms"]),
                base64.b64decode(str(data["signature"]), validate=True),
                bytes.fromhex(str(data["key_id"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed entry promise: {exc}") from exc


class PromiseSigner:
    """Signs promises with the log key for a fixed maximum merge delay."""

    def __init__(self, signer: LogSigner, max_delay_ms: int) -> None:
        self.signer = signer
        self.max_delay_ms = max_delay_ms

    def promise(self, entry_id: int, leaf_input: bytes, timestamp_ms: int) -> EntryPromise:
        digest = leaf_hash(leaf_input)
        data = promise_bytes(entry_id, timestamp_ms, self.max_delay_ms, digest)
        signature, kid = self.signer.signed(data)
        return EntryPromise(entry_id, digest, timestamp_ms, self.max_delay_ms, signature, kid)


def _integer(value: object) -> int:
    """An integer field of a saved promise: an int, or a string of digits (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


# Promises handed to the caller (an HTTP response header, ``carekey.interfaces.api.app.LogPromises``): the unit
# of work publishes the promises of its entries here only once their transaction has committed, so a caller
# never receives a promise for an entry that was rolled back (it would convict an honest log of a missing entry).
_ISSUED: ContextVar[list[EntryPromise] | None] = ContextVar("carekey_issued_promises", default=None)


@contextmanager
def collect_promises() -> Iterator[list[EntryPromise]]:
    """Collect the promises of the log entries committed inside the block (in this context and the worker threads
    it starts: they share the list)."""
    issued: list[EntryPromise] = []
    token = _ISSUED.set(issued)
    try:
        yield issued
    finally:
        _ISSUED.reset(token)


def publish_committed(promises: Sequence[EntryPromise]) -> None:
    """Called after a commit with the promises of the entries it made durable; a no-op outside ``collect``."""
    issued = _ISSUED.get()
    if issued is not None:
        issued.extend(promises)


def encode_promises(promises: Sequence[EntryPromise]) -> str:
    """The ``CareKey-Log-Promise`` header value: base64url of the JSON array of the promises (``to_dict``)."""
    doc = json.dumps([p.to_dict() for p in promises], separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode()).decode()


def decode_promises(value: str) -> list[EntryPromise]:
    """The promises of a ``CareKey-Log-Promise`` header value (raises ValueError when malformed)."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"malformed promise header: {exc}") from exc
    if not isinstance(doc, list):
        raise ValueError("malformed promise header: not a list of promises")
    return [EntryPromise.from_dict(p) for p in doc]
