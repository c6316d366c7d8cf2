"""The sync protocol's pure rules (docs/sync.md, section 3): canonical bytes, batch hashes, the request signing
string and the order a push batch must follow. No I/O; the services apply these."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: the clock window (ms) within which a signed request is accepted and its nonce remembered
CLOCK_WINDOW_MS = 10 * 60 * 1000
#: ``sync_feed.origin`` of changes a node received from the central registry (never pushed back)
CENTRAL = "central"


def canonical(obj: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): what is hashed and signed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signing_string(method: str, path: str, body: bytes, timestamp_ms: int, nonce: str) -> bytes:
    """What a node signs for every request (in the spirit of HTTP Message Signatures, RFC 9421): method, path,
    SHA-256 of the body, timestamp and a random nonce, one a line."""
    return f"carekey-sync-v1\n{method.upper()}\n{path}\n{sha256_hex(body)}\n{timestamp_ms}\n{nonce}".encode()


def response_string(path: str, body: bytes) -> bytes:
    """What the central registry signs (its log key) over an answer, so the node knows who answered."""
    return f"carekey-sync-answer-v1\n{path}\n{sha256_hex(body)}".encode()


class BatchVerdict(StrEnum):
    APPLY = "apply"  # the next batch, chained to the last one: apply it
    ACK_AGAIN = "ack_again"  # a retry of an applied batch (same seq, same hash): acknowledge, apply nothing
    REPLAYED = "replayed"  # an applied seq with another hash: refused, the node flagged
    REORDERED = "reordered"  # a gap in seq, or a prev_hash that is not the last accepted one: refused, flagged


@dataclass(frozen=True)
class BatchFacts:
    last_seq: int  # the last batch applied for this node
    last_hash: str
    seq: int  # the batch offered
    prev_hash: str
    hash: str
    applied_hash: str | None  # the hash applied under ``seq`` (None: never applied)


def judge_batch(f: BatchFacts) -> BatchVerdict:
    """Where a pushed batch stands in the node's chain (seq + prev_hash, docs/sync.md section 3)."""
    if f.seq <= f.last_seq:
        return BatchVerdict.ACK_AGAIN if f.applied_hash == f.hash else BatchVerdict.REPLAYED
    if f.seq != f.last_seq + 1 or f.prev_hash != f.last_hash:
        return BatchVerdict.REORDERED
    return BatchVerdict.APPLY


#: the demographic fields a registrar may edit after enrollment (the card number is the person's key: never)
EDITABLE_FIELDS = ("given_name", "family_name", "sex", "birth_year", "district", "village")


@dataclass(frozen=True)
class FieldEdit:
    """What the per-field merge needs of one demographic edit (no value: values stay sealed)."""

    id: str
    field: str
    prev: tuple[str, ...]  # the edits of the same field it replaced: every head the editor saw (none: enrollment)
    at: str  # ISO time
    central: bool  # made on the central registry


@dataclass(frozen=True)
class FieldMerge:
    winner: str  # the id of the edit whose value the field takes
    conflict: tuple[str, ...] = ()  # concurrent edits (both sides changed the field since the last common version)


def merge_fields(edits: list[FieldEdit]) -> dict[str, FieldMerge]:
    """Per field (docs/sync.md, merge rules): the edits form a graph through ``prev`` (an edit replaces every head
    its editor saw, so an edit made after a merge settles a conflict); its *heads* are the edits no other edit of
    the field replaced. One head: a change made on one side only (or on both sides one after the
    other), it wins. Several heads: both sides changed the field since their last common version: the central
    registry's value stays (the latest central head; without one, the latest head, ties by id) and the heads are a
    conflict for the review list. The same edits give the same answer on every side (idempotent, order-free)."""
    out: dict[str, FieldMerge] = {}
    for field in sorted({e.field for e in edits}):
        mine = [e for e in edits if e.field == field]
        replaced = {p for e in mine for p in e.prev}
        heads = sorted((e for e in mine if e.id not in replaced), key=lambda e: (e.at, e.id))
        if len(heads) == 1:
            out[field] = FieldMerge(heads[0].id)
            continue
        central = [e for e in heads if e.central]
        winner = (central or heads)[-1]
        out[field] = FieldMerge(winner.id, tuple(e.id for e in heads))
    return out
