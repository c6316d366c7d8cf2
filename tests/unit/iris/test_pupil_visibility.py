"""quality.pupil_visibility: lashes or lid shadow over the upper iris do not make an open eye "occluded";
a lid over the pupil, or a broken ring on the lateral side, still does."""

from __future__ import annotations

import numpy as np
import pytest

from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris import quality
from carekey.biometrics.iris.segmentation import Circle, Segmentation

SIZE, C, PUPIL_R, IRIS_R = 240, 120.0, 30.0, 90.0
PUPIL, IRIS, SKIN, LASH = 20, 110, 200, 15


def _eye() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    img = np.full((SIZE, SIZE), SKIN, np.uint8)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    dist = np.hypot(xx - C, yy - C)
    angle = np.degrees(np.arctan2(yy - C, xx - C)) % 360  # image y grows down: 270 is straight up
    img[dist < IRIS_R] = IRIS
    img[dist < PUPIL_R] = PUPIL
    return img, dist, angle


def _visibility(img: np.ndarray) -> float:
    none = np.zeros(img.shape, bool)
    seg = Segmentation(img, none, none, Circle(C, C, PUPIL_R), Circle(C, C, IRIS_R), float(IRIS - PUPIL), 90.0)
    return quality.pupil_visibility(seg)


def test_an_open_eye_is_fully_visible():
    img, _, _ = _eye()
    assert _visibility(img) == pytest.approx(1.0)


def test_lashes_over_the_upper_iris_leave_the_pupil_visible():
    img, dist, angle = _eye()
    # a dark mass of lashes over the iris just above the pupil (230-310 degrees), not over the pupil itself
    img[(dist >= PUPIL_R) & (dist < 1.6 * PUPIL_R) & (angle > 230) & (angle < 310)] = LASH
    assert _visibility(img) >= P.MIN_PUPIL_VISIBLE  # the old measure: 1 - 80/360 = 0.78 ... and far less below
    img[(dist >= PUPIL_R) & (dist < 1.6 * PUPIL_R) & (angle > 200) & (angle < 340)] = LASH
    assert _visibility(img) == pytest.approx(1.0)


def test_a_lid_over_the_pupil_still_hides_it():
    img, _, _ = _eye()
    yy = np.mgrid[:SIZE, :SIZE][0]
    img[yy < C - 0.4 * PUPIL_R] = SKIN  # the upper lid down over 30 % of the pupil
    assert _visibility(img) < P.MIN_PUPIL_VISIBLE


def test_dark_on_the_lateral_ring_still_counts_as_hidden():
    img, dist, angle = _eye()
    # a dark blob continuing sideways (a lid crease mistaken for a pupil) breaks the lateral ring
    side = ((angle < 60) | (angle > 330) | ((angle > 120) & (angle < 210))) & (dist < 1.6 * PUPIL_R)
    img[side] = LASH
    assert _visibility(img) < P.MIN_PUPIL_VISIBLE
