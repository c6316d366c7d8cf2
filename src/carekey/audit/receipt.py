"""Log receipts: the proof, carried by a request to the matcher, that the transparency log holds the granted
decision that allowed it (issue 15).

A receipt is the *opened* log entry of one access decision plus the log's signed entry promise for it:

- ``event`` and ``salt``: the fields the leaf commits to (``carekey.audit.leaf``); the verifier recomputes the
  leaf input from them, so it reads the action, the outcome and the reason the log holds, not a claim;
- ``promise``: the entry promise signed with the registry's log key (``carekey.audit.promise``), binding the entry
  id, the leaf hash and the time it was logged.

Why a promise and not an inclusion proof under a signed tree head. The log integrates entries in batches
(``carekey.services.transparency``: one integrator under the log lock, within the maximum merge delay); an
inclusion proof exists only after integration. Integrating before every biometric request would take the log
lock and sign a head per search - the global serialization the log was redesigned to remove
(docs/architecture.md, "Before: one lock for the whole request"). The promise is Certificate Transparency's
answer to the same problem (the SCT, RFC 6962 section 3; RFC 9162 section 4.8): the log's signed word that the
entry exists now and will be in a signed head within the delay. It is as strong for the matcher's question (the
registry cannot make it without the log key, and cannot later drop the entry without ``carekey log verify
--promises`` convicting it: the matcher keeps every promise it accepted and can export them) and it is
verifiable in well under a millisecond (one Ed25519 verification and two SHA-256).

Scope binding. The leaf does not name a program or a modality, so the service appends a scope tag
(``scope_tag``) to the logged reason of a biometric grant; the reason is committed by the leaf, so the matcher
checks the program and modality the request names against what the log recorded.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass

from carekey.audit.leaf import SALT_BYTES, leaf_input
from carekey.audit.promise import EntryPromise


def scope_tag(program_id: str, modality: str) -> str:
    """Appended to the logged reason of a biometric grant: what the receipt allows the matcher to touch."""
    return f" [matcher scope: program={program_id} modality={modality}]"


class ReceiptError(ValueError):
    """A receipt the matcher must refuse; ``reason`` is a short, stable label (counted per label)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Receipt:
    event: Mapping[str, object]  # the leaf event (``AccessEvent.leaf_event``): JSON scalars only
    salt: bytes
    promise: EntryPromise

    @property
    def entry_key(self) -> str:
        """Unique per log entry: the signing key's id and the entry id."""
        return f"{self.promise.key_id.hex()[:32]}:{self.promise.entry_id}"

    def to_dict(self) -> dict[str, object]:
        return {
            "event": dict(self.event),
            "salt": base64.b64encode(self.salt).decode(),
            "promise": self.promise.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: object) -> Receipt:
        if not isinstance(data, Mapping):
            raise ReceiptError("malformed", "the receipt is not an object")
        try:
            event = data["event"]
            if not isinstance(event, Mapping) or not all(
                v is None or isinstance(v, str | int | float | bool) for v in event.values()
            ):
                raise ValueError("event must be an object of scalars")
            salt = base64.b64decode(str(data["salt"]), validate=True)
            raw = data["promise"]
            if not isinstance(raw, Mapping):
                raise ValueError("promise must be an object")
            promise = EntryPromise.from_dict(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise ReceiptError("malformed", f"malformed receipt: {exc}") from None
        return cls(dict(event), salt, promise)


@dataclass(frozen=True)
class Expectation:
    """What the request to the matcher does: the receipt must be a grant of exactly this."""

    action: str
    program_id: str
    modality: str


def verify_receipt(
    receipt: Receipt,
    trusted: Mapping[bytes, bytes],
    expected: Expectation,
    max_age_ms: int,
    now_ms: int | None = None,
    skew_ms: int = 5_000,
) -> None:
    """Raise ``ReceiptError`` unless the receipt is a fresh, log-signed, granted decision for ``expected``.

    ``trusted``: key id -> Ed25519 public key of the registry's log keys (configured out of band, never read from
    the registry's database). Single use is the caller's business (``entry_key``: the matcher's ledger)."""
    promise = receipt.promise
    if promise.key_id not in trusted:
        raise ReceiptError("unknown_key", "the receipt is signed by a key that is not the registry's log key")
    if not promise.verify(trusted):
        raise ReceiptError("bad_signature", "the receipt's entry promise does not verify with the log key")
    if len(receipt.salt) != SALT_BYTES:
        raise ReceiptError("malformed", "the receipt's salt is not 32 bytes")
    try:
        opened = leaf_input(receipt.event, receipt.salt)
    except (TypeError, ValueError) as exc:
        raise ReceiptError("malformed", f"the receipt's event cannot be committed: {exc}") from None
    if not promise.covers(opened):
        raise ReceiptError("leaf_mismatch", "the receipt's event is not the entry the log promised")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if promise.timestamp_ms > now + skew_ms:
        raise ReceiptError("stale", "the receipt is dated in the future")
    if now - promise.timestamp_ms > max_age_ms:
        raise ReceiptError(
            "stale", f"the receipt is {(now - promise.timestamp_ms) / 1000:.1f} s old (at most {max_age_ms / 1000:g} s)"
        )
    event = receipt.event
    if event.get("outcome") != "granted":
        raise ReceiptError("not_granted", f"the logged decision was {event.get('outcome')!r}, not granted")
    if event.get("action") != expected.action:
        raise ReceiptError(
            "wrong_action", f"the receipt grants {event.get('action')!r}, this request is {expected.action!r}"
        )
    reason = event.get("reason")
    if not isinstance(reason, str) or not reason.endswith(scope_tag(expected.program_id, expected.modality)):
        raise ReceiptError("wrong_scope", "the receipt was not granted for this program and modality")
