import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from carekey.bench import metrics


def test_perfect_separation_has_zero_eer():
    curve = metrics.error_curve(np.array([0.8, 0.9, 0.95]), np.array([0.1, 0.2, 0.3]))
    assert metrics.equal_error_rate(curve) == 0.0
    assert metrics.fnmr_at_fmr(curve, 0.001) == 0.0


def test_total_overlap_has_half_eer():
    rng = np.random.default_rng(1)
    scores = rng.random(20000)
    curve = metrics.error_curve(scores[:10000], scores[10000:])
    assert abs(metrics.equal_error_rate(curve) - 0.5) < 0.02


def test_known_example():
    # genuine: 4 scores, one very low; impostors: 4 scores, one very high
    curve = metrics.error_curve(np.array([0.05, 0.7, 0.8, 0.9]), np.array([0.1, 0.2, 0.3, 0.95]))
    assert metrics.equal_error_rate(curve) == 0.25
    assert metrics.fnmr_at_fmr(curve, 0.0) == 1.0  # only threshold above 0.95 reaches FMR 0


@given(st.lists(st.floats(0, 1), min_size=1, max_size=50), st.lists(st.floats(0, 1), min_size=1, max_size=50))
def test_rates_are_monotone_and_bounded(gen, imp):
    curve = metrics.error_curve(np.array(gen), np.array(imp))
    assert np.all(np.diff(curve.fmr) <= 0) and np.all(np.diff(curve.fnmr) >= 0)
    eer = metrics.equal_error_rate(curve)
    assert 0.0 <= eer <= 1.0
    assert curve.fmr[-1] == 0.0 and curve.fnmr[0] == 0.0
