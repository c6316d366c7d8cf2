"""Audit of a stored log: recompute everything from the stored leaves and report each problem precisely.

Inputs are what an auditor can read: the stored entries ``(index, leaf_input)`` in storage order, the
signed tree heads saved earlier (by the auditor, by patients, by the public page), the log's public
key, and optionally the stored perfect-node hashes (the ``NodeStore`` the log appended to).

What is detected, and how:
- a signed tree head with a bad signature or signed by another key  -> ``bad_signature``
- two saved heads not linked by a consistency proof (RFC 9162 2.1.4),
  or a later head with a smaller size                                -> ``inconsistent_sth``
- a head whose root differs from the root recomputed from the entries -> ``root_mismatch``
  (located between the last matching head and this one)
- fewer entries than a signed head covers                            -> ``removed`` (at the end)
- the stored index column with a gap / a duplicate / going backwards -> ``removed`` / ``inserted`` / ``reordered``
- when the node store is given and matches the signed heads, every entry is compared with its recorded
  leaf hash, which names the exact index of a ``modified``, ``removed``, ``inserted`` or ``reordered``
  entry even when the attacker renumbered the rows.
- node hashes in the store that do not reproduce a signed root     -> ``node_store_mismatch``
- (``PromiseCheck``) an entry promise that does not verify           -> ``bad_promise``
- a promised entry in no signed head within its delay               -> ``promise_late``
- a promised entry missing from the log, or its promise removed      -> ``promise_missing``
Anyone holding the private key could re-sign a rewritten log; saved heads held outside the database
(and consistency between them) are what makes such a rewrite visible.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from carekey.audit.merkle import MerkleLog, NodeStore, leaf_hash, verify_consistency
from carekey.audit.promise import EntryPromise
from carekey.audit.sth import SignedTreeHead, key_id

MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class Problem:
    kind: str  # modified | removed | inserted | reordered | bad_signature | inconsistent_sth | root_mismatch | ...
    index: int | None  # leaf index concerned (or the first index of the suspect range); None for STH-only issues
    detail: str


@dataclass
class VerificationReport:
    entries: int
    heads_checked: int
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False  # more than MAX_PROBLEMS problems; the first ones are listed
    promises_checked: int = 0  # entry promises checked (PromiseCheck)
    _seen: set[tuple[str, int | None]] = field(default_factory=set, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def add(self, kind: str, index: int | None, detail: str) -> None:
        if (kind, index) in self._seen:
            return
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self._seen.add((kind, index))
        self.problems.append(Problem(kind, index, detail))

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "heads_checked": self.heads_checked,
            "promises_checked": self.promises_checked,
            "truncated": self.truncated,
            "problems": [{"kind": p.kind, "index": p.index, "detail": p.detail} for p in self.problems],
        }


def verify_log(
    entries: Sequence[tuple[int, bytes]],
    heads: Sequence[SignedTreeHead],
    public_key: bytes | Mapping[bytes, bytes],
    recorded: NodeStore | None = None,
) -> VerificationReport:
    """``public_key``: the log key, or key id -> public key of every trusted log key (after rotations)."""
    keys = public_key if isinstance(public_key, Mapping) else {key_id(public_key): public_key}
    report = VerificationReport(entries=len(entries), heads_checked=len(heads))
    _check_index_column([i for i, _ in entries], report)
    rebuilt = MerkleLog()
    for _, data in entries:
        rebuilt.append(data)
    valid = []
    for sth in heads:
        if sth.verify(keys.get(sth.key_id, b"")):
            valid.append(sth)
        else:
            report.add("bad_signature", None, f"tree head of size {sth.size} does not verify with the log key")
    valid.sort(key=lambda s: (s.head.timestamp_ms, s.size))
    trusted = _trusted_store(recorded, valid, report)
    if trusted is not None:
        reference = [trusted.store.get(0, i) for i in range(trusted.size)]
        _diff(reference, [leaf_hash(d) for _, d in entries], report)
    _check_roots(rebuilt, valid, report)
    _check_consistency([t for t in (rebuilt, trusted) if t is not None], valid, report)
    return report


def _check_index_column(indices: list[int], report: VerificationReport) -> None:
    """Gaps, duplicates and backward steps in the stored index column (when rows were not renumbered)."""
    seen = Counter(indices)
    for index in sorted(i for i, c in seen.items() if c > 1):
        report.add("inserted", index, f"index {index} is stored {seen[index]} times")
    for index in range(max(indices, default=-1) + 1):
        if index not in seen:
            report.add("removed", index, f"no stored entry has index {index}")
    for before, after in itertools.pairwise(indices):
        if after < before:
            report.add("reordered", after, f"index {after} is stored after index {before}")
            report.add("reordered", before, f"index {before} is stored before index {after}")


def _trusted_store(
    recorded: NodeStore | None, heads: list[SignedTreeHead], report: VerificationReport
) -> MerkleLog | None:
    """The recorded node store, if every signed head it covers reproduces from it."""
    if recorded is None:
        return None
    tree = MerkleLog(recorded)
    good = True
    for sth in heads:
        if sth.size <= tree.size and tree.root(sth.size) != sth.root:
            report.add(
                "node_store_mismatch", None, f"stored node hashes do not give the signed root of size {sth.size}"
            )
            good = False
    return tree if good else None


def _diff(ref: list[bytes], got: list[bytes], report: VerificationReport) -> None:
    """Align recomputed leaf hashes with the recorded ones; name each difference by leaf index."""
    pos_ref = {h: i for i, h in enumerate(ref)}
    pos_got = {h: j for j, h in enumerate(got)}
    i = j = 0
    while i < len(ref) and j < len(got) and not report.truncated:
        if ref[i] == got[j]:
            i, j = i + 1, j + 1
        elif i + 1 < len(ref) and j + 1 < len(got) and ref[i] == got[j + 1] and ref[i + 1] == got[j]:
            report.add("reordered", i, f"entries {i} and {i + 1} are swapped")
            report.add("reordered", i + 1, f"entries {i} and {i + 1} are swapped")
            i, j = i + 2, j + 2
        elif j + 1 < len(got) and ref[i] == got[j + 1]:
            report.add("inserted", j, f"stored entry at position {j} was never appended to the log")
            j += 1
        elif (i + 1 < len(ref) and ref[i + 1] == got[j]) or (ref[i] not in pos_got and got[j] in pos_ref):
            report.add("removed", i, f"entry {i} is missing")
            i += 1
        elif got[j] not in pos_ref and ref[i] in pos_got:
            report.add("inserted", j, f"stored entry at position {j} was never appended to the log")
            j += 1
        elif got[j] in pos_ref:
            report.add("reordered", i, f"entry {i} holds the leaf recorded at index {pos_ref[got[j]]}")
            i, j = i + 1, j + 1
        else:
            report.add("modified", i, f"entry {i} does not match its recorded leaf hash")
            i, j = i + 1, j + 1
    for k in range(i, len(ref)):
        report.add("removed", k, f"entry {k} is missing")
        if report.truncated:
            break
    for k in range(j, len(got)):
        report.add("inserted", k, f"stored entry at position {k} was never appended to the log")
        if report.truncated:
            break


def _check_roots(rebuilt: MerkleLog, heads: list[SignedTreeHead], report: VerificationReport) -> None:
    good_below = 0
    for sth in sorted(heads, key=lambda s: s.size):
        if sth.size > rebuilt.size:
            report.add(
                "removed", rebuilt.size, f"the log has {rebuilt.size} entries but a signed tree head covers {sth.size}"
            )
        elif rebuilt.root(sth.size) != sth.root:
            report.add(
                "root_mismatch",
                good_below,
                f"entries in [{good_below}, {sth.size}) do not give the signed root of size {sth.size}",
            )
        else:
            good_below = max(good_below, sth.size)


def _check_consistency(trees: list[MerkleLog], heads: list[SignedTreeHead], report: VerificationReport) -> None:
    for old, new in zip(heads, heads[1:], strict=False):
        if new.size < old.size:
            report.add("inconsistent_sth", None, f"a later tree head has size {new.size} < {old.size}")
            continue
        linked = False
        for tree in trees:
            if tree.size >= new.size:
                proof = tree.consistency_proof(old.size, new.size)
                linked = linked or verify_consistency(old.size, new.size, old.root, new.root, proof)
        if not linked:
            report.add(
                "inconsistent_sth",
                old.size,
                f"no consistency proof from the stored log links tree heads {old.size} and {new.size}",
            )


@dataclass(frozen=True)
class PromisedEntry:
    """One stored entry as the promise check sees it: ``promise`` None for an entry logged without one."""

    entry_id: int
    seq: int | None  # leaf index; None while waiting for integration
    leaf_input: bytes
    promise: EntryPromise | None


class PromiseCheck:
    """Every entry promise must be kept: signed by a trusted log key over the entry's id and leaf hash, and the
    entry in a signed tree head no later than ``timestamp_ms + max_delay_ms`` (Certificate Transparency's maximum
    merge delay, RFC 9162 section 4.8). Fed stored entries in id order (``add``), then promises saved outside the
    database (``saved``): a saved promise whose entry is missing or different is a ``promise_missing`` problem."""

    def __init__(
        self, heads: Sequence[SignedTreeHead], keys: Mapping[bytes, bytes], now_ms: int, report: VerificationReport
    ) -> None:
        valid = sorted((h for h in heads if h.verify(keys.get(h.key_id, b""))), key=lambda h: h.size)
        self._sizes = [h.size for h in valid]
        self._first_ms = list(itertools.accumulate(reversed([h.head.timestamp_ms for h in valid]), min))[::-1]
        self._keys, self._now, self._report = keys, now_ms, report
        self._seen: dict[int, tuple[bytes, int | None]] = {}  # entry id -> (leaf hash, seq), for saved promises
        self._promised_since: int | None = None  # first entry id logged with a promise
        self.checked = 0

    def first_head_ms(self, seq: int) -> int | None:
        """Timestamp of the earliest valid head covering leaf ``seq`` (None: no head covers it yet)."""
        i = bisect.bisect_right(self._sizes, seq)
        return self._first_ms[i] if i < len(self._sizes) else None

    def add(self, e: PromisedEntry) -> None:
        self._seen[e.entry_id] = (leaf_hash(e.leaf_input), e.seq)
        where = f"entry {e.entry_id}" + (f" (leaf {e.seq})" if e.seq is not None else " (not yet integrated)")
        if e.promise is None:
            if self._promised_since is not None and e.entry_id > self._promised_since:
                self._report.add(
                    "promise_missing",
                    e.seq,
                    f"{where} has no entry promise, unlike the entries before it: its promise was removed",
                )
            return
        if self._promised_since is None:
            self._promised_since = e.entry_id
        self._check(e.promise, e.seq, where, e.leaf_input)

    def _check(self, p: EntryPromise, seq: int | None, where: str, leaf_input: bytes | None) -> None:
        self.checked += 1
        if not p.verify(self._keys) or (leaf_input is not None and not p.covers(leaf_input)):
            self._report.add(
                "bad_promise", seq, f"{where}: its entry promise does not verify with a log key or names another leaf"
            )
            return
        first = self.first_head_ms(seq) if seq is not None else None
        if first is None and self._now > p.deadline_ms:
            self._report.add(
                "promise_late",
                seq,
                f"{where}: promised at {p.timestamp_ms} ms within {p.max_delay_ms} ms, in no signed tree head yet",
            )
        elif first is not None and first > p.deadline_ms:
            self._report.add(
                "promise_late",
                seq,
                f"{where}: first in a signed tree head at {first} ms, after its promised deadline {p.deadline_ms} ms",
            )

    def saved(self, promises: Sequence[EntryPromise]) -> None:
        """Promises kept by people or auditors: each must name an entry stored with the same leaf."""
        for p in promises:
            if not p.verify(self._keys):
                self._report.add(
                    "bad_promise", None, f"saved promise for entry {p.entry_id} does not verify with a log key"
                )
            elif p.entry_id not in self._seen or self._seen[p.entry_id][0] != p.leaf_hash:
                self._report.add(
                    "promise_missing",
                    None,
                    f"entry {p.entry_id} was promised (signed by the log) but "
                    "is not in the log with that leaf: it was removed or rewritten",
                )
            else:
                self._check(p, self._seen[p.entry_id][1], f"saved promise for entry {p.entry_id}", None)
