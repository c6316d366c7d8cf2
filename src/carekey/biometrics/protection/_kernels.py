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


@numba.njit(cache=True, nogil=True)
def _row_best(sims: np.ndarray, i: int, used_c: np.ndarray) -> int:
    """The first column of row i holding its largest value among the unused columns (-1 when none is left)."""
    best, bj = -1e300, -1
    for j in range(sims.shape[1]):
        if not used_c[j] and sims[i, j] > best:
            best, bj = sims[i, j], j
    return bj


@numba.njit(cache=True, nogil=True)
def greedy_lss(sims: np.ndarray, n_p: int) -> float:
    """Mean of the n_p best pairs of ``sims``, each row and column used at most once: each step takes the largest
    value of the unused rows and columns (the first in row-major order among equals). Each row's best column is
    kept and looked for again only when that column is taken, instead of scanning the whole matrix every step."""
    na, nb = sims.shape
    used_r = np.zeros(na, np.bool_)
    used_c = np.zeros(nb, np.bool_)
    best_col = np.empty(na, np.int64)
    for i in range(na):
        best_col[i] = _row_best(sims, i, used_c)
    total = 0.0
    taken = 0
    for _ in range(min(n_p, na, nb)):
        best, bi = -1e300, -1
        for i in range(na):
            if not used_r[i] and best_col[i] >= 0 and sims[i, best_col[i]] > best:
                best, bi = sims[i, best_col[i]], i
        if bi < 0:
            break
        bj = best_col[bi]
        used_r[bi] = True
        used_c[bj] = True
        total += best
        taken += 1
        for i in range(na):
            if not used_r[i] and best_col[i] == bj:
                best_col[i] = _row_best(sims, i, used_c)
    return total / taken if taken else 0.0


@numba.njit(cache=True, nogil=True)
def _keep_top(tops: np.ndarray, r: int, v: int) -> None:
    """Insert v into row r of ``tops`` (its k largest values so far, ascending) when it is larger than the least."""
    k = tops.shape[1]
    if v <= tops[r, 0]:
        return
    i = 0
    while i + 1 < k and v > tops[r, i + 1]:
        tops[r, i] = tops[r, i + 1]
        i += 1
    tops[r, i] = v


@numba.njit(cache=True, nogil=True)
def lss_of_counts(counts: np.ndarray, hashes: int, top: int, n_p: int) -> np.ndarray:
    """The protected fingerprint comparison of a stack of collision counts (k, rows of a, rows of b) int32,
    before the score map: each finger's rates c / hashes minus half the sum of the mean of the ``top`` best rates
    of its row and of its column (``fingerprint.normalized``), then the greedy local similarity sort of ``n_p``
    pairs (``greedy_lss``). One compiled loop per stack: numpy's partitions over a (2000, 48, 48) shortlist, a Python
    call per finger and a full rescan of the matrix per greedy step took 185 ms for 2,000 fingers, this loop 96 ms."""
    k, na, nb = counts.shape
    out = np.zeros(k)
    if na == 0 or nb == 0:
        return out
    tr, tc = min(top, nb), min(top, na)
    sims = np.empty((na, nb))
    row_tops = np.empty((na, tr), np.int64)
    col_tops = np.empty((nb, tc), np.int64)
    row_top = np.empty(na)
    col_top = np.empty(nb)
    for f in range(k):
        row_tops[:] = -1
        col_tops[:] = -1
        for i in range(na):
            for j in range(nb):
                v = counts[f, i, j]
                _keep_top(row_tops, i, v)
                _keep_top(col_tops, j, v)
        for i in range(na):
            row_top[i] = row_tops[i].sum() / (tr * hashes)
        for j in range(nb):
            col_top[j] = col_tops[j].sum() / (tc * hashes)
        for i in range(na):
            for j in range(nb):
                sims[i, j] = counts[f, i, j] / hashes - 0.5 * (row_top[i] + col_top[j])
        out[f] = greedy_lss(sims, n_p)
    return out


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
