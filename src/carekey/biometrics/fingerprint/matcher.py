"""MCC global score with local similarity sort and relaxation (LSS-R), compiled with numba.

After Cappelli, Ferrara, Maltoni, IEEE TPAMI 2010, sections 4-5: the local similarity of two
bit cylinders is 1 - |a xor b| / (|a| + |b|) (norms = square roots of popcounts) over the cells
valid in both; the best nR one-to-one pairs (greedy, by local similarity) are relaxed by their
geometric compatibility with each other, and the score is the mean relaxed similarity of the nP
most "efficient" pairs. Written by hand because no maintained library implements MCC; numba
because a comparison must take tens of microseconds.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from carekey.biometrics.fingerprint import parameters as P
from carekey.biometrics.fingerprint.cylinders import WORDS_PER_SECTION, _angle_diff


@intrinsic
def _popcount(typingctx, x):  # noqa: ARG001 - numba intrinsic signature
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@numba.njit(cache=True)
def _sigmoid(v, mu, tau):
    return 1.0 / (1.0 + math.exp(-tau * (v - mu)))


@numba.njit(cache=True)
def local_similarities(xyt_a, bits_a, masks_a, xyt_b, bits_b, masks_b, min_cells, max_angle):
    na, nb = bits_a.shape[0], bits_b.shape[0]
    wps = masks_a.shape[1]
    sections = bits_a.shape[1] // wps
    sims = np.zeros((na, nb))
    common_mask = np.empty(wps, dtype=np.uint64)
    cos_a, sin_a = np.cos(xyt_a[:, 2]), np.sin(xyt_a[:, 2])
    cos_b, sin_b = np.cos(xyt_b[:, 2]), np.sin(xyt_b[:, 2])
    min_cos = math.cos(max_angle)
    for i in range(na):
        for j in range(nb):
            if cos_a[i] * cos_b[j] + sin_a[i] * sin_b[j] < min_cos:  # directions differ by > max_angle
                continue
            common = 0
            for w in range(wps):
                common_mask[w] = masks_a[i, w] & masks_b[j, w]
                common += _popcount(common_mask[w])
            if common < min_cells:
                continue
            na_, nb_, nx = 0, 0, 0
            for k in range(sections):
                base = k * wps
                for w in range(wps):
                    m = common_mask[w]
                    x = bits_a[i, base + w] & m
                    y = bits_b[j, base + w] & m
                    na_ += _popcount(x)
                    nb_ += _popcount(y)
                    nx += _popcount(x ^ y)
            den = math.sqrt(na_) + math.sqrt(nb_)
            if den > 0:
                sims[i, j] = 1.0 - math.sqrt(nx) / den
    return sims


@numba.njit(cache=True)
def _relaxed_score(xyt_a, xyt_b, sims, n_p, n_r_max, iterations, w_r, mu1, tau1, mu2, tau2, mu3, tau3):
    # beyond these a factor of the compatibility is below 1e-6: leave it at zero, skip the rest
    skip_d1 = mu1 + 14.0 / abs(tau1)
    skip_d2 = mu2 + 14.0 / abs(tau2)
    skip_d3 = mu3 + 14.0 / abs(tau3)
    na, nb = sims.shape
    flat = sims.ravel()
    n_r = min(na, nb, n_r_max)
    # counting sort of the positive similarities into 1024 buckets, best first (ties within a
    # bucket keep index order): linear time, where a comparison sort dominated the matcher's cost
    bins = 1024
    counts = np.zeros(bins + 1, dtype=np.int64)
    for v in flat:
        if v > 0.0:
            counts[bins - int(v * bins)] += 1
    starts = np.zeros(bins + 2, dtype=np.int64)
    for h in range(bins + 1):
        starts[h + 1] = starts[h] + counts[h]
    order = np.empty(starts[bins + 1], dtype=np.int64)
    for idx in range(flat.size):
        v = flat[idx]
        if v > 0.0:
            h = bins - int(v * bins)
            order[starts[h]] = idx
            starts[h] += 1
    used_a = np.zeros(na, dtype=np.bool_)
    used_b = np.zeros(nb, dtype=np.bool_)
    pa = np.empty(n_r, dtype=np.int64)
    pb = np.empty(n_r, dtype=np.int64)
    lam = np.empty(n_r)
    k = 0
    for idx in order:
        if k >= n_r:
            break
        i, j = idx // nb, idx % nb
        if used_a[i] or used_b[j]:
            continue
        used_a[i] = True
        used_b[j] = True
        pa[k], pb[k], lam[k] = i, j, flat[idx]
        k += 1
    n_r = k
    if n_r == 0:
        return 0.0
    lam = lam[:n_r]
    rho = np.zeros((n_r, n_r))
    for r in range(n_r):
        ai, bi = pa[r], pb[r]
        for c in range(r + 1, n_r):
            aj, bj = pa[c], pb[c]
            dxa, dya = xyt_a[aj, 0] - xyt_a[ai, 0], xyt_a[aj, 1] - xyt_a[ai, 1]
            dxb, dyb = xyt_b[bj, 0] - xyt_b[bi, 0], xyt_b[bj, 1] - xyt_b[bi, 1]
            d1 = abs(math.sqrt(dxa * dxa + dya * dya) - math.sqrt(dxb * dxb + dyb * dyb))
            if d1 > skip_d1:
                continue
            d2 = abs(_angle_diff(_angle_diff(xyt_a[ai, 2], xyt_a[aj, 2]), _angle_diff(xyt_b[bi, 2], xyt_b[bj, 2])))
            if d2 > skip_d2:
                continue
            ra = _angle_diff(xyt_a[ai, 2], math.atan2(dya, dxa))
            rb = _angle_diff(xyt_b[bi, 2], math.atan2(dyb, dxb))
            d3 = abs(_angle_diff(ra, rb))
            if d3 > skip_d3:
                continue
            v = _sigmoid(d1, mu1, tau1) * _sigmoid(d2, mu2, tau2) * _sigmoid(d3, mu3, tau3)
            rho[r, c] = v
            rho[c, r] = v
    # sparse rows: most compatibilities are zero
    nnz = np.zeros(n_r, dtype=np.int64)
    cols = np.empty((n_r, n_r), dtype=np.int64)
    vals = np.empty((n_r, n_r))
    for r in range(n_r):
        for c in range(n_r):
            if rho[r, c] > 0.0:
                cols[r, nnz[r]] = c
                vals[r, nnz[r]] = rho[r, c]
                nnz[r] += 1
    lam0 = lam.copy()
    cur = lam.copy()
    nxt = np.empty(n_r)
    denom = max(n_r - 1, 1)
    for _ in range(iterations):
        for r in range(n_r):
            acc = 0.0
            for q in range(nnz[r]):
                acc += vals[r, q] * cur[cols[r, q]]
            nxt[r] = w_r * cur[r] + (1.0 - w_r) * acc / denom
        cur[:] = nxt
    eff = cur / lam0
    best = np.argsort(-eff)
    take = min(n_p, n_r)
    total = 0.0
    for q in range(take):
        total += cur[best[q]]
    return total / n_p


@numba.njit(cache=True)
def _score(xyt_a, bits_a, masks_a, xyt_b, bits_b, masks_b, prm):
    na, nb = bits_a.shape[0], bits_b.shape[0]
    if na == 0 or nb == 0:
        return 0.0
    z = 1.0 / (1.0 + math.exp(-prm[2] * (min(na, nb) - prm[3])))
    n_p = int(prm[0] + round(z * (prm[1] - prm[0])))
    sims = local_similarities(xyt_a, bits_a, masks_a, xyt_b, bits_b, masks_b, prm[4], prm[5])
    return _relaxed_score(xyt_a, xyt_b, sims, n_p, int(prm[6]), int(prm[7]), prm[8],
                          prm[9], prm[10], prm[11], prm[12], prm[13], prm[14])


_MIN_CELLS = int(P.MCC_MIN_MATCHABLE_CELLS * math.pi * (P.MCC_NS / 2) ** 2)
assert WORDS_PER_SECTION * 64 == P.MCC_NS * P.MCC_NS
PARAMS = np.array([
    P.LSS_MIN_NP, P.LSS_MAX_NP, P.LSS_TAU_P, P.LSS_MU_P, _MIN_CELLS, P.MCC_MAX_ANGLE_DIFF,
    P.RELAX_MAX_PAIRS, P.RELAX_ITERATIONS, P.RELAX_WEIGHT,
    P.RELAX_MU1, P.RELAX_TAU1, P.RELAX_MU2, P.RELAX_TAU2, P.RELAX_MU3, P.RELAX_TAU3,
], dtype=np.float64)


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernels now rather than in the first comparison."""
    from carekey.biometrics.fingerprint.cylinders import cylinders

    rng = np.random.default_rng(0)
    xyt = np.column_stack([rng.uniform(0, 200, 30), rng.uniform(0, 200, 30), rng.uniform(-3, 3, 30)])
    score(*cylinders(xyt), *cylinders(xyt))


def score(xyt_a, bits_a, masks_a, xyt_b, bits_b, masks_b) -> float:
    """Similarity in [0, 1] of two cylinder sets."""
    return 1.0 - math.exp(-_score(xyt_a, bits_a, masks_a, xyt_b, bits_b, masks_b, PARAMS) / P.SCORE_SCALE)
