"""An append-only Merkle log in the shape of RFC 9162 (Certificate Transparency v2), section 2.1.

Why written here: no maintained Python library implements RFC 9162 / RFC 6962 inclusion and
consistency proofs over a persistent node store (the Go reference is transparency-dev/merkle; its
published test vectors are checked in tests/unit/test_merkle_vectors.py). The code follows the
definitions of the RFC, not that project's code.

Hashes (RFC 9162 section 2.1.1):
  leaf hash      = SHA-256(0x00 || leaf_input)
  interior node  = SHA-256(0x01 || left || right), left subtree = the largest power of two < n leaves
  empty tree     = SHA-256("")

Storage: a *perfect node* ``(level, index)`` is the hash of leaves [index * 2**level, (index + 1) * 2**level).
Nodes never change once written, so a store of perfect nodes answers the root, inclusion and consistency
proofs of *every past size* too. An append writes the leaf node and the perfect nodes it completes
(at most log2(n), on average 2); a root or a proof reads O(log^2 n) nodes at worst.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from carekey.audit.leaf import leaf_hash

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "InMemoryNodeStore",
    "MerkleLog",
    "NodeStore",
    "ProofError",
    "leaf_hash",
    "node_hash",
    "reference_root",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


class ProofError(ValueError):
    """A proof is malformed or does not match the claimed tree (pure-logic error, no HTTP meaning)."""


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def reference_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from the definition (RFC 9162 2.1.1); O(n), used to cross-check the log."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(reference_root(leaf_hashes[:k]), reference_root(leaf_hashes[k:]))


class NodeStore(Protocol):
    """Persistence of perfect nodes. A database adapter implements it with a table
    ``(level, index) -> hash``; ``add`` must write all nodes of one append atomically."""

    def leaf_count(self) -> int: ...

    def get(self, level: int, index: int) -> bytes: ...

    def add(self, nodes: Sequence[tuple[int, int, bytes]]) -> None: ...


class InMemoryNodeStore:
    """Perfect nodes in one bytearray per level (32 bytes per node, about 64 MB at 1,000,000 leaves)."""

    def __init__(self) -> None:
        self._levels: list[bytearray] = []

    def leaf_count(self) -> int:
        return len(self._levels[0]) // HASH_SIZE if self._levels else 0

    def get(self, level: int, index: int) -> bytes:
        if level >= len(self._levels) or (index + 1) * HASH_SIZE > len(self._levels[level]):
            raise KeyError((level, index))
        start = index * HASH_SIZE
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def add(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        for level, index, digest in nodes:
            while level >= len(self._levels):
                self._levels.append(bytearray())
            if index * HASH_SIZE != len(self._levels[level]):
                raise ValueError(f"node ({level}, {index}) is not the next one of its level")
            self._levels[level] += digest


class MerkleLog:
    """The log over a NodeStore: append leaves, compute roots and proofs for any size up to the current."""

    def __init__(self, store: NodeStore | None = None) -> None:
        self.store: NodeStore = store if store is not None else InMemoryNodeStore()

    @property
    def size(self) -> int:
        return self.store.leaf_count()

    def append(self, leaf_input: bytes) -> int:
        """Append one leaf (its stored input); return its index."""
        return self.append_hash(leaf_hash(leaf_input))

    def append_hash(self, digest: bytes) -> int:
        if len(digest) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        index = self.size
        nodes = [(0, index, digest)]
        level, i, h = 0, index, digest
        while i & 1:  # a right child completes its parent
            h = node_hash(self.store.get(level, i - 1), h)
            level, i = level + 1, i >> 1
            nodes.append((level, i, h))
        self.store.add(nodes)
        return index

    def extend(self, leaf_inputs: Iterable[bytes]) -> None:
        for data in leaf_inputs:
            self.append(data)

    def leaf_hash_at(self, index: int) -> bytes:
        self._check_size(index + 1)
        return self.store.get(0, index)

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._range(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(m, D[n]) of RFC 9162 section 2.1.3.1, ordered from the leaf up."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in a tree of size {size}")
        return self._path(index, 0, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1; empty when old_size is 0 or equals new_size."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ProofError(f"cannot prove {old_size} -> {new_size}")
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, 0, new_size, True)

    # -- internals ------------------------------------------------------------------------------
    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ProofError(f"size {size} is beyond the log ({self.size} leaves)")

    def _range(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]); a perfect aligned range is one stored node."""
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self.store.get(n.bit_length() - 1, start // n)
        k = _split(n)
        return node_hash(self._range(start, start + k), self._range(start + k, end))

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return self._path(m, start, start + k) + [self._range(start + k, end)]
        return self._path(m - k, start + k, end) + [self._range(start, start + k)]

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self._range(start, end)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, start, start + k, whole) + [self._range(start + k, end)]
        return self._subproof(m - k, start + k, end, False) + [self._range(start, start + k)]


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be a {HASH_SIZE}-byte hash")


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 section 2.1.3.2); raises ProofError if malformed."""
    _check_hash(leaf, "leaf hash")
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash(p, "proof element")
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    try:
        return root_from_inclusion_proof(leaf, index, size, proof) == root
    except ProofError:
        return False


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2. Size 0 is consistent with anything (empty proof)."""
    if not 0 <= old_size <= new_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == 0:
        return not proof
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is itself a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
