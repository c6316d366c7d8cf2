"""MCC global score with local similarity sort and relaxation (LSS-R), compiled with numba.

After Cappelli, Ferrara, Maltoni, IEEE TPAMI 2010, sections 4-5: the local similarity of two
bit cylinders is 1 - |a xor b| / (|a| + |b|) (norms = square roots of popcounts) over the cells
valid in both; the best nR one-to-one pairs (greedy, by local similarity) are relaxed by their
geometric compatibility with each other, and the score is the mean relaxed similarity of the nP
most "efficient" pairs, weighted by how many pairs one rigid motion aligns (global consolidation).
Written by hand because no maintained library implements MCC; numba
because a comparison must take tens of microseconds.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from carekey.biometrics.fingerprint import parameters as P
from carekey.biometrics.fingerprint.cylinders import WORDS, WORDS_PER_SECTION, _angle_diff
from carekey.biometrics.kernels import popcount as _popcount

_BINS = 1024  # buckets of the counting sort of local similarities


@numba.njit(cache=True)
def _sigmoid(v, mu, tau):
    return 1.0 / (1.0 + math.exp(-tau * (v - mu)))


@numba.njit(cache=True)
def _tiled_masks(masks, words):
    """Each cylinder's validity mask repeated for every angular section (k x words), so that a
    comparison runs over contiguous words, which the compiler vectorizes (vector popcount)."""
    n, wps = masks.shape
    out = np.empty((n, words), dtype=np.uint64)
    for i in range(n):
        for t in range(words):
            out[i, t] = masks[i, t % wps]
    return out


@numba.njit(cache=True)
def local_similarities(xyt_a, bits_a, masks_a, xyt_b, bits_b, masks_b, min_cells, max_angle):
    """Positive local similarities in row-major (i, j) order: (count, values, i, j, sort bucket).

    Bits are only ever set in valid cells, so a's bits in the cells valid in both are ``a & mask_b``.
    All counts are integers: the values are exactly those of the plain formula.
    """
    na, nb = bits_a.shape[0], bits_b.shape[0]
    tm_a, tm_b = _tiled_masks(masks_a, WORDS), _tiled_masks(masks_b, WORDS)
    vals = np.empty(na * nb)
    rows = np.empty(na * nb, dtype=np.int64)
    cols = np.empty(na * nb, dtype=np.int64)
    buckets = np.empty(na * nb, dtype=np.int64)
    found = 0
    cos_a, sin_a = np.cos(xyt_a[:, 2]), np.sin(xyt_a[:, 2])
    cos_b, sin_b = np.cos(xyt_b[:, 2]), np.sin(xyt_b[:, 2])
    min_cos = math.cos(max_angle)
    near = np.empty(nb, dtype=np.int64)
    for i in range(na):
        a, ma = bits_a[i], tm_a[i]
        # the j whose directions differ by at most max_angle, in ascending order; written without
        # a branch (unpredictable: a third of the directions pass)
        n_near = 0
        for j in range(nb):
            near[n_near] = j
            n_near += cos_a[i] * cos_b[j] + sin_a[i] * sin_b[j] >= min_cos
        for q in range(n_near):
            j = near[q]
            common = 0
            for w in range(WORDS_PER_SECTION):  # compile-time trip counts: fully unrolled
                common += _popcount(masks_a[i, w] & masks_b[j, w])
            if common < min_cells:
                continue
            b, mb = bits_b[j], tm_b[j]
            na_, nb_, nx = 0, 0, 0
            for t in range(WORDS):
                x, y = a[t], b[t]
                na_ += _popcount(x & mb[t])
                nb_ += _popcount(y & ma[t])
                nx += _popcount((x ^ y) & ma[t] & mb[t])
            den = math.sqrt(na_) + math.sqrt(nb_)
            if den > 0:
                v = 1.0 - math.sqrt(nx) / den
                if v > 0.0:
                    vals[found], rows[found], cols[found] = v, i, j
                    buckets[found] = _BINS - int(v * _BINS)
                    found += 1
    return found, vals, rows, cols, buckets


@numba.njit(cache=True)
def _consolidated(xyt_a, xyt_b, pa, pb, cur, n_r, anchors, max_dist, max_angle):
    """Largest number of pairs that one rigid motion aligns, tried from the ``anchors`` best relaxed pairs.

    A global consolidation step after MCC's local matching (cf. Cappelli, Ferrara, Maltoni 2010, sec. 7,
    and the consolidation of Jiang and Yau 2000): impostor pairs that survive relaxation rarely agree
    on one common rotation and translation.
    """
    order = np.argsort(-cur)
    best = 0
    cos_max = math.cos(max_angle)
    for q in range(min(anchors, n_r)):
        r = order[q]
        ai, bi = pa[r], pb[r]
        rot = _angle_diff(xyt_b[bi, 2], xyt_a[ai, 2])
        c, s = math.cos(rot), math.sin(rot)
        count = 0
        for t in range(n_r):
            dxa, dya = xyt_a[pa[t], 0] - xyt_a[ai, 0], xyt_a[pa[t], 1] - xyt_a[ai, 1]
            ex = xyt_b[bi, 0] + c * dxa - s * dya - xyt_b[pb[t], 0]
            ey = xyt_b[bi, 1] + s * dxa + c * dya - xyt_b[pb[t], 1]
            if ex * ex + ey * ey > max_dist * max_dist:
                continue
            if math.cos(_angle_diff(xyt_a[pa[t], 2] + rot, xyt_b[pb[t], 2])) < cos_max:
                continue
            count += 1
        best = max(best, count)
    return best


@numba.njit(cache=True)
def _select_pairs(na, nb, n_r, found, vals, rows, cols, buckets):
    """The best one-to-one pairs, greedily by local similarity: (pa, pb, lambda), at most n_r.

    Counting sort of the positive similarities into _BINS buckets, best first (ties within a bucket
    keep (i, j) order): linear time, where a comparison sort dominated the matcher's cost.
    """
    starts = np.zeros(_BINS + 2, dtype=np.int64)
    for q in range(found):
        starts[buckets[q] + 1] += 1
    for h in range(_BINS + 1):
        starts[h + 1] += starts[h]
    order = np.empty(found, dtype=np.int64)
    for q in range(found):
        h = buckets[q]
        order[starts[h]] = q
        starts[h] += 1
    used_a = np.zeros(na, dtype=np.bool_)
    used_b = np.zeros(nb, dtype=np.bool_)
    pa = np.empty(n_r, dtype=np.int64)
    pb = np.empty(n_r, dtype=np.int64)
    lam = np.empty(n_r)
    k = 0
    for q in order:
        if k >= n_r:
            break
        i, j = rows[q], cols[q]
        if used_a[i] or used_b[j]:
            continue
        used_a[i] = True
        used_b[j] = True
        pa[k], pb[k], lam[k] = i, j, vals[q]
        k += 1
    return pa[:k], pb[:k], lam[:k]


@numba.njit(cache=True)
def _compatibilities(xyt_a, xyt_b, pa, pb, mu1, tau1, mu2, tau2, mu3, tau3):
    """Geometric compatibility of every two selected pairs, as sparse rows (CSR: starts, columns, values)."""
    n_r = pa.shape[0]
    # beyond these a factor of the compatibility is below 1e-6: leave it at zero, skip the rest
    skip_d1 = mu1 + 14.0 / abs(tau1)
    skip_d2 = mu2 + 14.0 / abs(tau2)
    skip_d3 = mu3 + 14.0 / abs(tau3)
    xa, ya, ta = xyt_a[pa, 0], xyt_a[pa, 1], xyt_a[pa, 2]
    xb, yb, tb = xyt_b[pb, 0], xyt_b[pb, 1], xyt_b[pb, 2]
    pairs = n_r * (n_r - 1) // 2
    e_r = np.empty(pairs, dtype=np.int64)
    e_c = np.empty(pairs, dtype=np.int64)
    e_v = np.empty(pairs)
    n_e = 0
    for r in range(n_r):
        for c in range(r + 1, n_r):
            # the cheap direction test first (it rejects most impostor pairs); the tests are
            # independent, so their order does not change the result
            d2 = abs(_angle_diff(_angle_diff(ta[r], ta[c]), _angle_diff(tb[r], tb[c])))
            if d2 > skip_d2:
                continue
            dxa, dya = xa[c] - xa[r], ya[c] - ya[r]
            dxb, dyb = xb[c] - xb[r], yb[c] - yb[r]
            d1 = abs(math.sqrt(dxa * dxa + dya * dya) - math.sqrt(dxb * dxb + dyb * dyb))
            if d1 > skip_d1:
                continue
            d3 = abs(_angle_diff(_angle_diff(ta[r], math.atan2(dya, dxa)), _angle_diff(tb[r], math.atan2(dyb, dxb))))
            if d3 > skip_d3:
                continue
            v = _sigmoid(d1, mu1, tau1) * _sigmoid(d2, mu2, tau2) * _sigmoid(d3, mu3, tau3)
            if v > 0.0:
                e_r[n_e], e_c[n_e], e_v[n_e] = r, c, v
                n_e += 1
    # rows in ascending column order: edges come ordered by (r, c), so row x first receives its
    # columns r < x (ascending) and then its columns c > x (ascending)
    starts = np.zeros(n_r + 1, dtype=np.int64)
    for e in range(n_e):
        starts[e_r[e] + 1] += 1
        starts[e_c[e] + 1] += 1
    for r in range(n_r):
        starts[r + 1] += starts[r]
    fill = starts[:n_r].copy()
    col = np.empty(2 * n_e, dtype=np.int64)
    val = np.empty(2 * n_e)
    for e in range(n_e):
        r, c, v = e_r[e], e_c[e], e_v[e]
        col[fill[r]], val[fill[r]] = c, v
        fill[r] += 1
        col[fill[c]], val[fill[c]] = r, v
        fill[c] += 1
    return starts, col, val


@numba.njit(cache=True)
def _relaxed_score(
    xyt_a,
    xyt_b,
    na,
    nb,
    found,
    vals,
    rows,
    cols,
    buckets,
    n_p,
    n_r_max,
    iterations,
    w_r,
    mu1,
    tau1,
    mu2,
    tau2,
    mu3,
    tau3,
    anchors,
    max_dist,
    max_angle,
):
    pa, pb, lam0 = _select_pairs(na, nb, min(na, nb, n_r_max), found, vals, rows, cols, buckets)
    n_r = pa.shape[0]
    if n_r == 0:
        return 0.0, 0
    starts, col, val = _compatibilities(xyt_a, xyt_b, pa, pb, mu1, tau1, mu2, tau2, mu3, tau3)
    cur = lam0.copy()
    nxt = np.empty(n_r)
    denom = max(n_r - 1, 1)
    for _ in range(iterations):
        for r in range(n_r):
            acc = 0.0
            for q in range(starts[r], starts[r + 1]):
                acc += val[q] * cur[col[q]]
            nxt[r] = w_r * cur[r] + (1.0 - w_r) * acc / denom
        cur[:] = nxt
    eff = cur / lam0
    best = np.argsort(-eff)
    take = min(n_p, n_r)
    total = 0.0
    for q in range(take):
        total += cur[best[q]]
    return total / n_p, _consolidated(xyt_a, xyt_b, pa, pb, cur, n_r, anchors, max_dist, max_angle)


@numba.njit(cache=True)
def _score(xyt_a, bits_a, masks_a, xyt_b, bits_b, masks_b, prm):
    na, nb = bits_a.shape[0], bits_b.shape[0]
    if na == 0 or nb == 0:
        return 0.0, 0
    z = 1.0 / (1.0 + math.exp(-prm[2] * (min(na, nb) - prm[3])))
    n_p = int(prm[0] + round(z * (prm[1] - prm[0])))
    found, vals, rows, cols, buckets = local_similarities(
        xyt_a, bits_a, masks_a, xyt_b, bits_b, masks_b, prm[4], prm[5]
    )
    return _relaxed_score(
        xyt_a,
        xyt_b,
        na,
        nb,
        found,
        vals,
        rows,
        cols,
        buckets,
        n_p,
        int(prm[6]),
        int(prm[7]),
        prm[8],
        prm[9],
        prm[10],
        prm[11],
        prm[12],
        prm[13],
        prm[14],
        int(prm[15]),
        prm[16],
        prm[17],
    )


_MIN_CELLS = int(P.MCC_MIN_MATCHABLE_CELLS * math.pi * (P.MCC_NS / 2) ** 2)
assert WORDS_PER_SECTION * 64 == P.MCC_NS * P.MCC_NS
PARAMS = np.array(
    [
        P.LSS_MIN_NP,
        P.LSS_MAX_NP,
        P.LSS_TAU_P,
        P.LSS_MU_P,
        _MIN_CELLS,
        P.MCC_MAX_ANGLE_DIFF,
        P.RELAX_MAX_PAIRS,
        P.RELAX_ITERATIONS,
        P.RELAX_WEIGHT,
        P.RELAX_MU1,
        P.RELAX_TAU1,
        P.RELAX_MU2,
        P.RELAX_TAU2,
        P.RELAX_MU3,
        P.RELAX_TAU3,
        P.CONSOLIDATE_ANCHORS,
        P.CONSOLIDATE_MAX_DIST,
        P.CONSOLIDATE_MAX_ANGLE,
    ],
    dtype=np.float64,
)


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernels now rather than in the first comparison."""
    from carekey.biometrics.fingerprint.cylinders import cylinders

    rng = np.random.default_rng(0)
    xyt = np.column_stack([rng.uniform(0, 200, 30), rng.uniform(0, 200, 30), rng.uniform(-3, 3, 30)])
    score(*cylinders(xyt), *cylinders(xyt))


def score(xyt_a, bits_a, masks_a, xyt_b, bits_b, masks_b) -> float:
    """Similarity in [0, 1] of two cylinder sets."""
    if bits_a.shape[1] != WORDS or bits_b.shape[1] != WORDS:  # the kernels unroll over WORDS
        raise ValueError(f"cylinders must have {WORDS} words, got {bits_a.shape[1]} and {bits_b.shape[1]}")
    relaxed, aligned = _score(xyt_a, bits_a, masks_a, xyt_b, bits_b, masks_b, PARAMS)
    consolidated = relaxed * aligned / (aligned + P.CONSOLIDATE_HALF)
    return 1.0 - math.exp(-consolidated / P.SCORE_SCALE)
