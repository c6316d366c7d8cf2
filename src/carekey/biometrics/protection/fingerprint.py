"""Protected fingerprints: every MCC cylinder hashed with the program's IoM key; minutiae dropped.

The protected template is a set of IoM codes, one per valid cylinder, in random order, with no
minutia position or direction (those would let an attacker redraw the print). Comparison is the local
similarity sort of MCC (Cappelli, Ferrara, Maltoni, IEEE TPAMI 2010, section 5.1) on IoM collision
rates: the mean of the nP best cylinder pairs. This is the structure of P-MCC (Ferrara, Maltoni,
Cappelli, "Noninvertible Minutia Cylinder-Code Representation", IEEE TIFS 7(6), 2012), with IoM in
place of its KL-projection + binarization, so that a leaked key does not make the codes invertible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from carekey.biometrics.fingerprint import parameters as FP
from carekey.biometrics.fingerprint.templates import FingerprintTemplate
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection._kernels import collision_counts, greedy_lss, lss_of_counts
from carekey.biometrics.protection.iom import IoMKey, iom_key

POOLED_SIDE = FP.MCC_NS // P.FP_POOL
DIM = FP.MCC_ND * POOLED_SIDE * POOLED_SIDE


def key_for(secret: bytes) -> IoMKey:
    return iom_key(secret, "fingerprint", DIM, P.FP_HASHES, P.FP_Q)


def cylinder_vectors(bits: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Pooled cylinders as vectors (k, DIM), centred over their valid cells (invalid cells 0).

    Centring matters: MCC bits are mostly unset, and without it every cylinder's projections are
    dominated by the same all-unset direction, so unrelated cylinders would collide."""
    k, ns, q = bits.shape[0], FP.MCC_NS, P.FP_POOL
    cells: np.ndarray = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")[:, : FP.MCC_ND * ns * ns]
    cells = np.asarray(
        cells.reshape(k, FP.MCC_ND, ns // q, q, ns // q, q).any(axis=(3, 5))
    )  # one array (numpy types .any(axis) as bool | array)
    valid: np.ndarray = np.unpackbits(masks.view(np.uint8), axis=1, bitorder="little")[:, : ns * ns]
    valid = np.asarray(valid.reshape(k, 1, ns // q, q, ns // q, q).all(axis=(3, 5)))
    valid = np.broadcast_to(valid, cells.shape).reshape(k, DIM)
    x = cells.reshape(k, DIM).astype(np.float32)
    mean = (x * valid).sum(axis=1, keepdims=True) / np.maximum(valid.sum(axis=1, keepdims=True), 1)
    return ((x - mean) * valid).astype(np.float32)


def protect(template: FingerprintTemplate, secret: bytes) -> np.ndarray:
    """IoM codes (FP_ROWS, FP_HASHES) uint8 of the template's cylinders, in a fresh random order.

    The number of cylinders is a property of the finger, the same under every key: left visible it
    links a person's templates across programs (it raised D<->sys on DB1_B from the estimator's floor
    0.03 to 0.06). So every template has FP_ROWS rows: a random subset of the cylinders when there are
    more, random chaff codes (which collide with anything only by chance) when there are fewer."""
    rng = np.random.default_rng()
    vectors = cylinder_vectors(template.bits, template.masks)
    # A cylinder with no set (or no unset) valid cell centres to the zero vector, whose IoM code is all
    # zeros under *every* key: such rows would link templates across programs (DB2_B: D<->sys 0.14), so
    # they are dropped.
    codes = key_for(secret).hash(vectors[np.abs(vectors).sum(axis=1) > 0])
    if len(codes) >= P.FP_ROWS:
        return codes[rng.permutation(len(codes))[: P.FP_ROWS]]
    chaff = rng.integers(0, P.FP_Q, (P.FP_ROWS - len(codes), P.FP_HASHES), dtype=np.uint8)
    return np.concatenate([codes, chaff])[rng.permutation(P.FP_ROWS)]


def _n_p(na: int, nb: int) -> int:
    z = 1.0 / (1.0 + math.exp(-P.FP_TAU_P * (min(na, nb) - P.FP_MU_P)))
    return int(P.FP_MIN_NP + round(z * (P.FP_MAX_NP - P.FP_MIN_NP)))


def _top_mean(sims: np.ndarray, axis: int) -> np.ndarray:
    k = min(P.FP_NORM_TOP, sims.shape[axis])
    return (
        np.partition(sims, sims.shape[axis] - k, axis=axis)
        .take(range(sims.shape[axis] - k, sims.shape[axis]), axis=axis)
        .mean(axis=axis, keepdims=True)
    )


def normalized(sims: np.ndarray) -> np.ndarray:
    """Collision rates minus the mean of the FP_NORM_TOP best of their row and of their column: a pair is
    credited only by how far it stands out from each cylinder's best alternatives (a distinctiveness test,
    as the ratio test of Lowe, "Distinctive image features from scale-invariant keypoints", IJCV 2004), so a
    generic cylinder that collides well with many cylinders of the other print, and chaff, get no credit."""
    return sims - 0.5 * (_top_mean(sims, 1) + _top_mean(sims, 0))


def lss(sims: np.ndarray) -> float:
    """Local similarity sort, one-to-one: mean of the nP best pairs, each cylinder used once (greedy)."""
    if sims.size == 0:
        return 0.0
    return float(greedy_lss(np.ascontiguousarray(sims, np.float64), _n_p(*sims.shape)))


def to_score(raw: float) -> float:
    """Monotonic map of a (normalized) LSS value to [0, 1]; values at or below 0 (chance) score 0."""
    return float(1.0 - math.exp(-max(0.0, raw) / P.FP_SCORE_SCALE))


def score_counts(counts: np.ndarray, hashes: int) -> float:
    """Similarity in [0, 1] from the collision counts (rows of a, rows of b) of two fingers' codes of ``hashes``
    hash functions: the one place the comparison turns counts into a score (``compare``, the 1:N index).
    ``to_score(lss(normalized(counts / hashes)))``, computed by one compiled loop (``lss_of_counts``)."""
    return float(score_counts_many(np.asarray(counts)[None], hashes)[0])


def score_counts_many(counts: np.ndarray, hashes: int) -> np.ndarray:
    """``score_counts`` of a stack (k, rows of a, rows of b), by the same compiled loop: the same floats as one
    ``score_counts`` per finger."""
    stack = np.ascontiguousarray(counts, np.int32)
    raw = lss_of_counts(stack, hashes, P.FP_NORM_TOP, _n_p(stack.shape[1], stack.shape[2]))
    return np.array([to_score(x) for x in raw.tolist()], np.float64)


def compare(a: np.ndarray, b: np.ndarray) -> float:
    """Similarity in [0, 1] of two protected fingers (same key)."""
    return score_counts(collision_counts(a, b), a.shape[1])


def compare_pair(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """Two fingers (same order) fused by the mean rule."""
    return float(np.mean([compare(x, y) for x, y in zip(a, b, strict=True)]))
