"""The calibrated 0-100 score shown to health workers: monotonic, bounded, and derived from the committed impostor
distributions of the protected matcher (no hand-set constants)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carekey.biometrics.protection import calibration
from carekey.biometrics.protection import parameters as P

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "protection"
scores = st.floats(min_value=-0.5, max_value=1.5, allow_nan=False)


@pytest.mark.parametrize("modality", ["fingerprint", "iris"])
@given(a=scores, b=scores)
def test_calibrated_score_is_monotonic_and_bounded(modality, a, b):
    lo, hi = sorted((a, b))
    shown_lo, shown_hi = calibration.calibrated(modality, lo), calibration.calibrated(modality, hi)
    assert 0.0 <= shown_lo <= shown_hi <= 100.0


@pytest.mark.parametrize("modality", ["fingerprint", "iris"])
def test_knots_are_the_derivation_of_the_committed_bench_results(modality):
    derived = calibration.knots_from_results(RESULTS)[modality]
    flat = [v for knot in derived for v in knot]
    assert flat == pytest.approx([v for knot in calibration.KNOTS[modality] for v in knot], abs=1e-6)


def test_what_a_worker_sees():
    # a true match well above threshold is near the top, not "1/100"; chance level is 0; threshold in between
    assert calibration.calibrated("fingerprint", 0.95) > 95
    assert calibration.calibrated("fingerprint", 0.0) == 0.0
    assert 30 < calibration.calibrated("fingerprint", P.FP_THRESHOLD) < 60
    assert 40 < calibration.calibrated("iris", P.IRIS_THRESHOLD) < 60
    assert calibration.calibrated("iris", 0.125) < 5  # chance collisions of 3-bit hashes
    assert calibration.calibrated("iris", float("nan")) == 0.0


def test_derive_averages_sets_and_extends_the_tail():
    edges = [0.0, 0.25, 0.5, 0.75, 1.0]
    knots = calibration.derive([(edges, [50, 40, 9, 1]), (edges, [60, 30, 10, 0])])
    xs, ys = zip(*knots, strict=True)
    assert xs[:3] == (0.25, 0.5, 0.75) and ys[-1] == -calibration.DECADES and xs[-1] > 0.75
    assert list(ys) == sorted(ys, reverse=True)
    assert ys[2] == pytest.approx(-2.30103, abs=1e-4)  # mean survival at 0.75: (1 % + 0 %) / 2
    with pytest.raises(ValueError, match="bin edges"):
        calibration.derive([(edges, [1, 1, 1, 1]), ([0, 1], [4])])
