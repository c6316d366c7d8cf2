"""1:N search over protected fingers: a keyed Bloom-style pre-filter on the IoM codes, then the full
protected comparison of the best few per cent.

IoM values are themselves locality-sensitive hashes of the cylinders, so banding them gives an LSH
index (the banding technique of Indyk and Motwani, STOC 1998; for MCC cylinders, Cappelli, Ferrara,
Maltoni, "Fingerprint indexing based on Minutia Cylinder-Code", IEEE TPAMI 33(5), 2011). For every
code row, band b is the tuple of its FP_INDEX_BAND consecutive IoM values from hash function
b * FP_INDEX_BAND; the pair (b, tuple) sets one bit of a FP_INDEX_BITS bitset, at a position drawn
from a table derived from the program secret. Mated fingers share cylinders whose bands collide far
more often than chance, so a popcount of the AND of two bitsets ranks the gallery, and the shortlist is
scored with ``fingerprint.compare``.

The bitset is a function of the stored protected codes and of the program secret only (never of
minutiae or cylinder bits): it reveals nothing the codes do not, and under another program's secret
both the codes and the bucket positions are independent, so it adds no cross-program linkability. It
lives in memory only; the persistent template is unchanged.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from carekey.biometrics.kernels import bitset_scan  # the popcount scan the unprotected pre-filter uses too
from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.gallery import Candidate, Slots, grown
from carekey.biometrics.protection.iom import derive

WORDS = P.FP_INDEX_BITS // 64


def bucket_table(secret: bytes) -> np.ndarray:
    """Keyed bit positions (BANDS, Q ** BAND) of every (band, tuple of values) pair."""
    label = f"index/fingerprint/{P.FP_INDEX_BANDS}/{P.FP_INDEX_BAND}/{P.FP_Q}/{P.FP_INDEX_BITS}"
    seed = np.frombuffer(derive(secret, label), dtype=np.uint32)
    rng = np.random.Generator(np.random.PCG64(seed))
    return rng.integers(0, P.FP_INDEX_BITS, (P.FP_INDEX_BANDS, P.FP_Q**P.FP_INDEX_BAND), dtype=np.int64)


def band_values(codes: np.ndarray) -> np.ndarray:
    """(rows, BANDS) index of each row's band tuple among the Q ** BAND possible ones."""
    used = P.FP_INDEX_BANDS * P.FP_INDEX_BAND
    if used > codes.shape[1]:
        raise ValueError("FP_INDEX_BANDS * FP_INDEX_BAND exceeds the hash functions of a code row")
    bands = codes[:, :used].reshape(codes.shape[0], P.FP_INDEX_BANDS, P.FP_INDEX_BAND).astype(np.int64)
    return (bands * (P.FP_Q ** np.arange(P.FP_INDEX_BAND))).sum(axis=2)


def bitset(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The pre-filter bitset (WORDS,) uint64 of one protected finger (rows, FP_HASHES)."""
    positions = table[np.arange(P.FP_INDEX_BANDS)[None, :], band_values(codes)]
    bits = np.zeros(P.FP_INDEX_BITS, np.uint8)
    bits[positions.ravel()] = 1
    return np.packbits(bits, bitorder="little").view("<u8")


class ProtectedFingerprintIndex(Slots):
    """Protected fingers (FP_ROWS, FP_HASHES) uint8 under opaque keys, all made under one secret."""

    def __init__(self, secret: bytes, capacity: int = 1024) -> None:
        super().__init__()
        self._table = bucket_table(secret)
        self._codes = np.zeros((max(capacity, 1), P.FP_ROWS, P.FP_HASHES), np.uint8)
        self._bitsets = np.zeros((max(capacity, 1), WORDS), np.uint64)

    @property
    def nbytes(self) -> int:
        return len(self) * (P.FP_ROWS * P.FP_HASHES + WORDS * 8)

    def add(self, key: Hashable, codes: np.ndarray) -> None:
        self.add_many([key], [codes])

    def add_many(self, keys: Sequence[Hashable], codes: Sequence[np.ndarray]) -> None:
        shape = (P.FP_ROWS, P.FP_HASHES)
        if len(codes) != len(keys) or any(c.dtype != np.uint8 or c.shape != shape or c.max() >= P.FP_Q for c in codes):
            raise ValueError(f"a protected finger is uint8 values below {P.FP_Q} of shape {shape}")
        start, end = self._new_keys(keys)
        self._codes = grown(self._codes, end)
        self._bitsets = grown(self._bitsets, end)
        for slot, c in zip(range(start, end), codes, strict=True):
            self._codes[slot] = c
            self._bitsets[slot] = bitset(c, self._table)

    def remove(self, key: Hashable) -> None:
        i, last = self._drop_key(key)
        if i != last:
            self._codes[i] = self._codes[last]
            self._bitsets[i] = self._bitsets[last]
        self._codes[last] = 0
        self._bitsets[last] = 0

    def shortlist_size(self, n: int) -> int:
        return min(n, max(P.FP_INDEX_SHORTLIST_MIN, round(P.FP_INDEX_SHORTLIST_SHARE * n)))

    def search(
        self, probe: np.ndarray, top: int = 5, shortlist: int | None = None, among: np.ndarray | None = None
    ) -> list[Candidate]:
        """Best ``top`` fingers by ``fingerprint.compare``, over the slots ``among`` if given; the
        pre-filter keeps ``shortlist`` of them (default: FP_INDEX_SHORTLIST_MIN or _SHARE of the gallery;
        ``shortlist >= len(index)`` is the exhaustive search)."""
        n = len(self)
        slots = np.arange(n) if among is None else np.asarray(among, np.int64)
        if n == 0 or slots.size == 0:
            return []
        keep = min(slots.size, self.shortlist_size(slots.size) if shortlist is None else shortlist)
        if keep < slots.size:
            votes = bitset_scan(self._bitsets[:n], bitset(probe, self._table))
            if among is not None:
                votes = votes[slots]
            slots = np.sort(slots[np.argpartition(-votes, keep - 1)[:keep]])
        scores = np.array([pfp.compare(probe, self._codes[s]) for s in slots])
        return self._ranked(slots, scores, top)
