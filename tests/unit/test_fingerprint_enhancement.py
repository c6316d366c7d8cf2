"""Ridge enhancement before mindtct: it must keep (and clean) the ridge pattern, never invent one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from carekey.biometrics.fingerprint import api
from carekey.biometrics.fingerprint import parameters as P
from carekey.biometrics.fingerprint.enhancement import enhance, ridge_period
from carekey.biometrics.fingerprint.minutiae import extract_minutiae

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fingerprint"
NAMES = ("101_1", "101_2", "101_3", "102_1", "103_1")


def stripes(period: float, angle: float, size: int = 200) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    phase = 2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period
    return np.cos(phase)


def to_gray(signal: np.ndarray) -> np.ndarray:
    return np.clip(128 + 60 * signal, 0, 255).astype(np.uint8)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


@settings(max_examples=15, deadline=None)
@given(period=st.floats(6.0, 13.0), angle=st.floats(0.0, np.pi))
def test_ridge_period_is_found_on_clean_stripes(period, angle):
    assert abs(ridge_period(to_gray(stripes(period, angle))) - period) <= 0.12 * period


@settings(max_examples=10, deadline=None)
@given(period=st.floats(7.0, 12.0), angle=st.floats(0.0, np.pi), seed=st.integers(0, 2**16))
def test_enhancement_restores_noisy_ridges(period, angle, seed):
    clean = stripes(period, angle)
    noisy = to_gray(clean + np.random.default_rng(seed).normal(0, 1.0, clean.shape))
    out = enhance(noisy)
    inner = (slice(30, -30), slice(30, -30))  # away from the image border
    assert out.shape == noisy.shape and out.dtype == np.uint8
    assert correlation(out[inner], clean[inner]) > 0.85  # dark ridges stay dark, no phase flip
    assert correlation(out[inner], clean[inner]) > correlation(noisy[inner], clean[inner]) + 0.2


def test_enhancement_of_a_uniform_image_is_finite_and_flat():
    out = enhance(np.full((200, 200), 170, np.uint8))
    assert np.ptp(out.astype(int)) <= 2


def test_enhancement_keeps_the_ridges_of_real_prints():
    for name in NAMES:
        pixels = np.array(Image.open(FIXTURES / f"db1_{name}.tif").convert("L"))
        out = enhance(pixels)
        h, w = pixels.shape
        centre = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
        assert correlation(out[centre], pixels[centre]) > 0.4, name


def test_every_fixture_still_enrolls_with_enough_minutiae():
    for name in NAMES:
        pixels = np.array(Image.open(FIXTURES / f"db1_{name}.tif").convert("L"))
        assert len(extract_minutiae(pixels, with_quality=False).minutiae) >= 2 * P.MIN_MINUTIAE, name
        assert api.extract((FIXTURES / f"db1_{name}.tif").read_bytes()).cylinder_count >= P.MIN_MINUTIAE
