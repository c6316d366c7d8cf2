"""Compiled loops of protected matching (numba, as the fingerprint matcher): counting equal IoM values
is a byte compare that LLVM vectorizes; numpy would build an (na, nb, m) temporary per comparison."""

from __future__ import annotations

import numba
import numpy as np

from carekey.biometrics.kernels import popcount as _popcount


@numba.njit(cache=True)
def collision_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of equal hash values of every row of ``a`` (na, m) with every row of ``b`` (nb, m)."""
    na, nb, m = a.shape[0], b.shape[0], a.shape[1]
    out = np.zeros((na, nb), np.int32)
    for i in range(na):
        for j in range(nb):
            c = 0
            for k in range(m):
                c += a[i, k] == b[j, k]
            out[i, j] = c
    return out


@numba.njit(cache=True)
def greedy_lss(sims: np.ndarray, n_p: int) -> float:
    """Mean of the n_p best pairs of ``sims``, each row and column used at most once."""
    na, nb = sims.shape
    used_r = np.zeros(na, np.bool_)
    used_c = np.zeros(nb, np.bool_)
    total = 0.0
    taken = 0
    for _ in range(min(n_p, na, nb)):
        best, bi, bj = -1e300, -1, -1
        for i in range(na):
            if used_r[i]:
                continue
            for j in range(nb):
                if not used_c[j] and sims[i, j] > best:
                    best, bi, bj = sims[i, j], i, j
        used_r[bi] = True
        used_c[bj] = True
        total += best
        taken += 1
    return total / taken if taken else 0.0


@numba.njit(cache=True)
def best_shift_scan(probe: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Per gallery row: the most colliding hash values with any probe rotation. Rows are one-hot IoM
    codes packed in uint64 words, so a collision is a common set bit (a popcount of AND)."""
    n, s, w = gallery.shape[0], probe.shape[0], probe.shape[1]
    out = np.zeros(n, np.int32)
    for r in range(n):
        g = gallery[r]
        best = np.uint64(0)
        for t in range(s):
            p = probe[t]
            c = np.uint64(0)
            for k in range(w):
                c += _popcount(p[k] & g[k])
            if c > best:
                best = c
        out[r] = best
    return out


_NIBBLE_LOW = np.uint64(0x1111111111111111)


@numba.njit(cache=True)
def nibble_collision_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``collision_counts`` of codes stored two 4-bit values a byte (``fingerprint_index.pack``), read as
    (rows, m / 16) uint64: a value collides when its nibble of ``a ^ b`` is zero (OR-folding each nibble's
    4 bits into its lowest, then a popcount of the non-zero nibbles)."""
    na, nb, w = a.shape[0], b.shape[0], a.shape[1]
    out = np.empty((na, nb), np.int32)
    one, two = np.uint64(1), np.uint64(2)
    for i in range(na):
        for j in range(nb):
            differ = 0
            for k in range(w):
                x = a[i, k] ^ b[j, k]
                x |= x >> one
                x |= x >> two
                differ += _popcount(x & _NIBBLE_LOW)
            out[i, j] = 16 * w - differ
    return out


@numba.njit(cache=True, nogil=True)
def shortlist_collision_counts(probe: np.ndarray, gallery: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """``nibble_collision_counts(probe, gallery[s])`` for every slot s: (len(slots), rows, rows) int32."""
    out = np.empty((slots.shape[0], probe.shape[0], gallery.shape[1]), np.int32)
    for t in range(slots.shape[0]):
        out[t] = nibble_collision_counts(probe, gallery[slots[t]])
    return out


@numba.njit(cache=True, nogil=True)
def pack_nibbles(codes: np.ndarray, out: np.ndarray) -> np.uint8:
    """codes (k, rows, m) uint8 values below 16 (any strides: a view into the stored page) -> out (k, rows, m / 2):
    value 2j in the low nibble of byte j. Returns the OR of every value: 16 or more when one is out of range."""
    k, rows, half = out.shape
    seen = np.uint8(0)
    for i in range(k):
        for r in range(rows):
            for j in range(half):
                lo, hi = codes[i, r, 2 * j], codes[i, r, 2 * j + 1]
                seen |= lo | hi
                out[i, r, j] = lo | (hi << 4)
    return seen


@numba.njit(cache=True, nogil=True)
def band_bitsets(packed: np.ndarray, bands: int, out: np.ndarray) -> None:
    """out (k, bands * 256 / 64) uint64: bit b * 256 + v set when some row of finger i has byte v at position b."""
    k, rows = packed.shape[0], packed.shape[1]
    one = np.uint64(1)
    for i in range(k):
        out[i, :] = 0
        for r in range(rows):
            for b in range(bands):
                bit = b * 256 + np.int64(packed[i, r, b])
                out[i, bit >> 6] |= one << np.uint64(bit & 63)
