"""Compiled loops of the fuzzy commitment benchmark (numba).

Evaluating every pair of a dataset at every rotation is ~10^7 Hadamard block decodes per parameter
set; ``fuzzy_commitment.hadamard_decode`` (a BLAS matmul, O(B^2) per block) would take hours, so the
benchmark runs the fast Walsh-Hadamard transform (O(B log B)) here, by hand, since neither numpy nor
scipy ships one. It decodes exactly as ``hadamard_decode`` (same tie-break: the first maximum; same
erasure rule), which a unit test checks.

The outer Reed-Solomon code is a bounded-distance decoder: with e wrongly decoded blocks and s erased
ones it returns the committed message iff 2 e + s <= n - k (beyond, it fails or miscorrects, and the
check value rejects a miscorrection). So one number per pair, min over rotations of 2 e + s, gives
the outcome for every k at once; ``protection_fc`` confirms it against the real decoder on a sample.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _fwht(x: np.ndarray) -> None:
    h, n = 1, x.shape[0]
    while h < n:
        for i in range(0, n, 2 * h):
            for j in range(i, i + h):
                a, b = x[j], x[j + h]
                x[j], x[j + h] = a + b, a - b
        h *= 2


@numba.njit(cache=True)
def block_errata(
    probes: np.ndarray, helpers: np.ndarray, truth: np.ndarray, pairs: np.ndarray, block: int, margin: float, cap: int
) -> np.ndarray:
    """min over rotations of (2 * wrong blocks + erased blocks), per pair, counted up to ``cap`` (a word with
    more errata than the code can ever correct stops there: the value is then ``cap``).

    probes (T, S, BITS) int8: bipolar permuted rotated probe codes, masked bits 0; helpers (T, BITS) int8:
    bipolar helper data, erased enrolment bits 0; truth (T, n) the committed symbols; pairs (M, 2) rows
    (probe index, enrolled index)."""
    m, n_rot = pairs.shape[0], probes.shape[1]
    n = truth.shape[1]
    out = np.empty(m, np.int32)
    buf = np.empty(block, np.int32)
    limit = margin * block
    for q in range(m):
        i, j = pairs[q, 0], pairs[q, 1]
        best_d = cap
        for s in range(n_rot):
            d = 0
            for b in range(n):
                o = b * block
                for t in range(block):
                    buf[t] = probes[i, s, o + t] * helpers[j, o + t]
                _fwht(buf)
                top, second, arg = -1, -1, 0
                for t in range(block):
                    v = abs(buf[t])
                    if v > top:
                        second, top, arg = top, v, t
                    elif v > second:
                        second = v
                if top - second < limit:
                    d += 1
                else:
                    sym = arg + block * (buf[arg] < 0)
                    d += 2 * (sym != truth[j, b])
                if d >= best_d:
                    break
            best_d = min(best_d, d)
        out[q] = best_d
    return out


@numba.njit(cache=True)
def block_spectra_votes(candidates: np.ndarray, helper: np.ndarray, block: int, n: int) -> np.ndarray:
    """Rathgeb-Uhl style votes: for one helper word (BITS,) and candidate codes (C, BITS) (bipolar, permuted,
    masked bits 0), the count of candidates decoding each block to each symbol: (n, 2 * block)."""
    votes = np.zeros((n, 2 * block), np.int32)
    buf = np.empty(block, np.int32)
    for c in range(candidates.shape[0]):
        for b in range(n):
            o = b * block
            for t in range(block):
                buf[t] = candidates[c, o + t] * helper[o + t]
            _fwht(buf)
            top, arg = -1, 0
            for t in range(block):
                v = abs(buf[t])
                if v > top:
                    top, arg = v, t
            if top > 0:
                votes[b, arg + block * (buf[arg] < 0)] += 1
    return votes


@numba.njit(cache=True)
def decodability(a: np.ndarray, b: np.ndarray, pairs: np.ndarray, block: int) -> np.ndarray:
    """Kelkboom et al.'s cross-matching score without keys: how close a XOR b (bipolar helper words, erased
    bits 0) is to a codeword, as the mean over blocks of the best |Hadamard correlation| / usable bits."""
    out = np.empty(pairs.shape[0], np.float64)
    buf = np.empty(block, np.int32)
    n = a.shape[1] // block
    for q in range(pairs.shape[0]):
        i, j = pairs[q, 0], pairs[q, 1]
        total = 0.0
        for blk in range(n):
            o, used = blk * block, 0
            for t in range(block):
                buf[t] = a[i, o + t] * b[j, o + t]
                used += buf[t] != 0
            _fwht(buf)
            top = 0
            for t in range(block):
                top = max(top, abs(buf[t]))
            total += top / max(used, 1)
        out[q] = total / n
    return out
