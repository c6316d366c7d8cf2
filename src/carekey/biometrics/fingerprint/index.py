"""1:N search: a binary LSH pre-filter over MCC cylinders, then exact re-ranking with the matcher.

Each cylinder is hashed by INDEX_HASHES functions, each reading INDEX_HASH_BITS fixed cylinder bits
near its centre (an idea from Cappelli, Ferrara, Maltoni, "Fingerprint indexing based on Minutia
Cylinder-Code", IEEE TPAMI 2011); a template's pre-filter vector has one bit per (function, hash
value) seen in any of its cylinders. Mated templates share many more of these bits than non-mated
ones, so a popcount scan over the gallery gives a shortlist that the full matcher re-ranks.

The index maps opaque keys (str or int) to one or more finger templates; it knows nothing else.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from carekey.biometrics.fingerprint import matcher
from carekey.biometrics.fingerprint import parameters as P
from carekey.biometrics.fingerprint.templates import FingerprintTemplate
from carekey.biometrics.kernels import bitset_scan


def _pooled_cells() -> np.ndarray:
    """Indices (into the pooled grid) of the pooled cells the hash functions may read."""
    n = P.MCC_NS // P.INDEX_POOL
    c = (np.arange(n) + 0.5 - n / 2) / (n / 2)
    inner = (c[:, None] ** 2 + c[None, :] ** 2).ravel() <= P.INDEX_HASH_RADIUS**2
    cells = np.flatnonzero(inner)
    return (np.array(P.INDEX_SECTIONS)[:, None] * n * n + cells[None, :]).ravel()


def _hash_positions() -> np.ndarray:
    """INDEX_HASHES x INDEX_HASH_BITS positions in the pooled cylinder, fixed by INDEX_SEED."""
    rng = np.random.default_rng(P.INDEX_SEED)
    return np.stack([rng.choice(_POOLED, size=P.INDEX_HASH_BITS, replace=False) for _ in range(P.INDEX_HASHES)])


_POOLED = _pooled_cells()
_POSITIONS = _hash_positions()
VECTOR_WORDS = P.INDEX_VECTOR_BITS // 64
_FOLD = np.int64(0x9E3779B1)  # odd multiplier (golden ratio): spreads (hash, value) buckets over the vector


def pooled(bits: np.ndarray) -> np.ndarray:
    """Cylinders with cells OR-ed over INDEX_POOL x INDEX_POOL blocks: denser, shift-tolerant bits."""
    k, ns, q = bits.shape[0], P.MCC_NS, P.INDEX_POOL
    cells = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little").reshape(k, P.MCC_ND, ns // q, q, ns // q, q)
    return cells.any(axis=(3, 5)).reshape(k, -1)


def prefilter_vector(bits: np.ndarray) -> np.ndarray:
    """The fixed-length binary pre-filter vector (VECTOR_WORDS uint64) of a template's cylinders."""
    sampled = pooled(bits)[:, _POSITIONS].astype(np.int64)  # k x H x B
    values = (sampled << np.arange(P.INDEX_HASH_BITS)).sum(axis=2)  # k x H
    buckets = ((np.arange(P.INDEX_HASHES) << P.INDEX_HASH_BITS)[None, :] + values) * _FOLD
    buckets = (buckets >> 7) % P.INDEX_VECTOR_BITS  # a Bloom filter of the (hash, value) pairs
    vector = np.zeros(P.INDEX_VECTOR_BITS, dtype=np.uint8)
    vector[buckets] = 1
    return np.packbits(vector, bitorder="little").view(np.uint64)


@dataclass(frozen=True)
class Candidate:
    key: Hashable
    score: float


class FingerprintIndex:
    """Gallery of entries, each one or more fingers in a fixed order (e.g. right index, left index)."""

    def __init__(self, fingers: int = 2) -> None:
        if fingers < 1:
            raise ValueError("an entry has at least one finger")
        self.fingers = fingers
        self._keys: list[Hashable] = []
        self._templates: list[Sequence[FingerprintTemplate]] = []
        self._vectors = np.zeros((0, fingers, VECTOR_WORDS), dtype=np.uint64)
        self._pending: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable, templates: Sequence[FingerprintTemplate]) -> None:
        if len(templates) != self.fingers:
            raise ValueError(f"an entry needs exactly {self.fingers} finger template(s)")
        self._keys.append(key)
        self._templates.append(tuple(templates))
        self._pending.append(np.stack([prefilter_vector(t.bits) for t in templates]))

    def _matrix(self) -> np.ndarray:
        if self._pending:
            self._vectors = np.concatenate([self._vectors, np.stack(self._pending)])
            self._pending = []
        return self._vectors

    def search(
        self, probe: Sequence[FingerprintTemplate], top: int = 5, shortlist: int | None = None
    ) -> list[Candidate]:
        """Best ``top`` entries by fused (mean over fingers) matcher score, best first."""
        if len(probe) != self.fingers:
            raise ValueError(f"a probe needs exactly {self.fingers} finger template(s)")
        vectors = self._matrix()
        if len(vectors) == 0:
            return []
        votes = np.zeros(len(vectors), dtype=np.int64)
        for f, template in enumerate(probe):
            votes += bitset_scan(np.ascontiguousarray(vectors[:, f]), prefilter_vector(template.bits))
        if shortlist is None:
            shortlist = max(P.INDEX_SHORTLIST_MIN, round(P.INDEX_SHORTLIST_SHARE * len(votes)))
        keep = min(shortlist, len(votes))
        short = np.argpartition(-votes, keep - 1)[:keep]
        scored = [(fused_score(probe, self._templates[i]), i) for i in short]
        scored.sort(key=lambda s: -s[0])
        return [Candidate(self._keys[i], s) for s, i in scored[:top]]


def fused_score(a: Sequence[FingerprintTemplate], b: Sequence[FingerprintTemplate]) -> float:
    """Mean-rule fusion of the per-finger scores (fingers paired by position)."""
    scores = [matcher.score(x.xyt, x.bits, x.masks, y.xyt, y.bits, y.masks) for x, y in zip(a, b, strict=True)]
    return sum(scores) / len(scores)
