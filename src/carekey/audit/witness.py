"""A witness's decision on a new signed tree head: accept it only if it extends the head the witness holds.

The witness is the "gossip" half of Certificate Transparency (RFC 9162 section 8.3, and the witness cosigning
idea of transparency-dev/witness): someone other than the log operator - a site, an auditor, a patient group -
fetches the log's current head on a schedule, checks that it is signed by the key it pinned and that an RFC 9162
consistency proof links it to the last head it accepted, and keeps the accepted heads. A log cut or rewritten on
the server can then no longer be presented as the same log to this witness: its next head is refused.

Pure logic: fetching (HTTP) and keeping the heads (a file) are the caller's (``carekey log witness``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from carekey.audit.merkle import verify_consistency
from carekey.audit.sth import SignedTreeHead


@dataclass(frozen=True)
class WitnessVerdict:
    accepted: bool
    reason: str
    new: bool = False  # accepted and not already held (to be appended)


def judge(
    held: SignedTreeHead | None,
    public_key: bytes,
    candidate: SignedTreeHead,
    proof: Callable[[int, int], Sequence[bytes]],
) -> WitnessVerdict:
    """Accept ``candidate`` (signed by ``public_key``) after ``held`` (the last accepted head, None at first use)
    when a consistency proof from ``proof(old_size, new_size)`` links them. ``proof`` may raise ValueError."""
    if not candidate.verify(public_key):
        return WitnessVerdict(False, "the head's signature does not verify with the pinned log key")
    if held is None:
        return WitnessVerdict(True, f"first head accepted (trust on first use): size {candidate.size}", True)
    if candidate.size < held.size:
        return WitnessVerdict(
            False,
            f"the log shrank: the server's head covers {candidate.size} entries, the head held covers {held.size}",
        )
    if candidate.size == held.size:
        if candidate.root != held.root:
            return WitnessVerdict(False, f"two different roots signed for size {held.size}: the log was rewritten")
        return WitnessVerdict(True, f"unchanged: size {held.size}", candidate.signature != held.signature)
    try:
        path = list(proof(held.size, candidate.size))
    except ValueError as err:
        return WitnessVerdict(False, f"no consistency proof from {held.size} to {candidate.size}: {err}")
    if not verify_consistency(held.size, candidate.size, held.root, candidate.root, path):
        return WitnessVerdict(
            False,
            f"the consistency proof from {held.size} to {candidate.size} does not verify: "
            "the new tree does not extend the one held",
        )
    return WitnessVerdict(True, f"consistent: {held.size} -> {candidate.size}", True)
