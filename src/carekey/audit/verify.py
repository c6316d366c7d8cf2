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
Anyone holding the private key could re-sign a rewritten log; saved heads held outside the database
(and consistency between them) are what makes such a rewrite visible.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from carekey.audit.merkle import MerkleLog, NodeStore, leaf_hash, verify_consistency
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
        return {"ok": self.ok, "entries": self.entries, "heads_checked": self.heads_checked,
                "truncated": self.truncated,
                "problems": [{"kind": p.kind, "index": p.index, "detail": p.detail} for p in self.problems]}


def verify_log(entries: Sequence[tuple[int, bytes]], heads: Sequence[SignedTreeHead],
               public_key: bytes | Mapping[bytes, bytes], recorded: NodeStore | None = None) -> VerificationReport:
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


def _trusted_store(recorded: NodeStore | None, heads: list[SignedTreeHead],
                   report: VerificationReport) -> MerkleLog | None:
    """The recorded node store, if every signed head it covers reproduces from it."""
    if recorded is None:
        return None
    tree = MerkleLog(recorded)
    good = True
    for sth in heads:
        if sth.size <= tree.size and tree.root(sth.size) != sth.root:
            report.add("node_store_mismatch", None,
                       f"stored node hashes do not give the signed root of size {sth.size}")
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
            report.add("removed", rebuilt.size,
                       f"the log has {rebuilt.size} entries but a signed tree head covers {sth.size}")
        elif rebuilt.root(sth.size) != sth.root:
            report.add("root_mismatch", good_below,
                       f"entries in [{good_below}, {sth.size}) do not give the signed root of size {sth.size}")
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
            report.add("inconsistent_sth", old.size,
                       f"no consistency proof from the stored log links tree heads {old.size} and {new.size}")
