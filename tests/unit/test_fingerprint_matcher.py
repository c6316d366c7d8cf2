"""Matcher internals: the global consolidation step counts the pairs that one rigid motion aligns."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.biometrics.fingerprint import matcher
from carekey.biometrics.fingerprint import parameters as P


def moved(xyt: np.ndarray, angle: float, dx: float, dy: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    out = xyt.copy()
    out[:, 0] = c * xyt[:, 0] - s * xyt[:, 1] + dx
    out[:, 1] = s * xyt[:, 0] + c * xyt[:, 1] + dy
    out[:, 2] = xyt[:, 2] + angle
    return out


def consolidated(a: np.ndarray, b: np.ndarray, pairs: int) -> int:
    index = np.arange(pairs, dtype=np.int64)
    return matcher._consolidated(
        a,
        b,
        index,
        index,
        np.linspace(1.0, 0.5, pairs),
        pairs,
        int(P.CONSOLIDATE_ANCHORS),
        P.CONSOLIDATE_MAX_DIST,
        P.CONSOLIDATE_MAX_ANGLE,
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), angle=st.floats(-math.pi, math.pi), dx=st.floats(-100, 100), dy=st.floats(-100, 100))
def test_a_rigidly_moved_print_is_aligned_pair_by_pair(seed, angle, dx, dy):
    rng = np.random.default_rng(seed)
    a = np.column_stack([rng.uniform(0, 300, 30), rng.uniform(0, 300, 30), rng.uniform(-math.pi, math.pi, 30)])
    b = moved(a, angle, dx, dy)
    assert consolidated(a, b, 30) == 30
    shuffled = b[rng.permutation(30)]  # same points, wrong correspondences: few agree with any motion
    assert consolidated(a, shuffled, 30) <= 10


def test_the_consolidated_score_is_symmetric_and_ranks_a_moved_copy_first():
    from carekey.biometrics.fingerprint.cylinders import cylinders

    rng = np.random.default_rng(3)
    a = np.column_stack([rng.uniform(0, 250, 40), rng.uniform(0, 250, 40), rng.uniform(-math.pi, math.pi, 40)])
    other = np.column_stack([rng.uniform(0, 250, 40), rng.uniform(0, 250, 40), rng.uniform(-math.pi, math.pi, 40)])
    ca, cb, co = cylinders(a), cylinders(moved(a, 0.4, 30.0, -20.0)), cylinders(other)
    same, diff = matcher.score(*ca, *cb), matcher.score(*ca, *co)
    assert 0.0 <= diff < P.THRESHOLD_FMR_0_1PCT <= same <= 1.0
    assert abs(matcher.score(*cb, *ca) - same) < 0.05
