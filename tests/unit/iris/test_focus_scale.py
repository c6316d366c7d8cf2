"""Focus is judged at the canonical iris size: the same eye captured larger is not "out of focus".

A synthetic eye (dark pupil disc inside a grey iris disc inside a bright sclera, edges blurred by a
Gaussian) is drawn at a base scale and at k times that scale with the blur scaled by k too, i.e. the
same optics seen closer. ``quality.pupil_edge_sharpness`` must give the same value within a small
tolerance once the iris is above CANONICAL_IRIS_RADIUS, and must still fall when the blur grows at a
fixed scale. Built on the Segmentation directly (no search), so every case is fast and exact.
"""

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris import quality
from carekey.biometrics.iris.segmentation import Circle, Segmentation


def synthetic(scale: float, blur: float, pupil_share: float = 0.4) -> Segmentation:
    iris_r = P.CANONICAL_IRIS_RADIUS * scale
    pupil_r = pupil_share * iris_r
    side = int(2 * iris_r * 1.6)
    yy, xx = np.mgrid[:side, :side].astype(np.float64)
    c = side / 2.0
    d = np.hypot(xx - c, yy - c)
    img = np.where(d < pupil_r, 30.0, np.where(d < iris_r, 110.0, 200.0))
    img = cv2.GaussianBlur(img, (0, 0), blur * scale)
    img8 = np.clip(img, 0, 255).astype(np.uint8)
    none = np.zeros(img8.shape, bool)
    return Segmentation(img8, none, none, Circle(c, c, pupil_r), Circle(c, c, iris_r), 80.0, 90.0)


@settings(max_examples=25, deadline=None)
@given(k=st.floats(1.0, 3.0), blur=st.floats(0.6, 2.5))
def test_sharpness_does_not_depend_on_the_capture_size(k, blur):
    base = quality.pupil_edge_sharpness(synthetic(1.0, blur))
    closer = quality.pupil_edge_sharpness(synthetic(k, blur))
    assert abs(closer - base) <= 0.12 * base + 0.02


@settings(max_examples=15, deadline=None)
@given(k=st.floats(1.0, 3.0))
def test_sharpness_falls_with_blur_at_any_size(k):
    sharp = quality.pupil_edge_sharpness(synthetic(k, 0.7))
    soft = quality.pupil_edge_sharpness(synthetic(k, 3.0))
    assert soft < P.MIN_PUPIL_EDGE_SHARPNESS < sharp
