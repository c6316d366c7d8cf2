"""The pupil circle does not depend on how far off the candidate disc started.

A dark disc (the pupil) on a grey iris, blurred like a real edge, at any size and position; the
refinement starts from a candidate off-centre by up to 0.25 r and up to 1.4x too large (a pupil
merged with the iris's dark rim or lashes, as on MMU1 11_R_4 and 14_L_2) and must end on the true
circle (within 0.08 r + 0.5 px). A single search within a fixed 0.15 r window (the behaviour before)
stops on the window's edge with a grown radius for the larger offsets.

The generated cases are derandomized (the same examples on every run) and the counterexample
hypothesis once found is kept as an explicit example: a small pupil (r 15.4) with a candidate 1.39x
too large has its true radius at 0.72 r0, at the very bottom of the 0.7..1.35 r0 window, where the
smoothed radial derivative was flattened by the filter's reflection at the profile's end; a circle
1.6 px too high and 1.6 px too large won. The radii are now sampled 3 sigma beyond the window.
"""

import cv2
import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from carekey.biometrics.iris import segmentation

ANGLES = np.deg2rad(np.r_[np.arange(-50, 230, 6)])


def disc(r: float, cx: float, cy: float) -> np.ndarray:
    h, w = 240, 320
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    img = np.where(np.hypot(xx - cx, yy - cy) < r, 25.0, 120.0)
    return cv2.GaussianBlur(img, (0, 0), 1.2)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(
    r=st.floats(15.0, 45.0),
    dx=st.floats(-0.25, 0.25),
    dy=st.floats(-0.25, 0.25),
    grow=st.floats(1.0, 1.4),
    x=st.floats(140.0, 180.0),
    y=st.floats(100.0, 140.0),
)
@example(r=15.363, dx=-0.0085, dy=-0.1586, grow=1.3887, x=175.908, y=138.427)  # was 1.6 px off
@example(r=15.0, dx=0.0, dy=-0.25, grow=1.4, x=160.3, y=120.7)  # the true radius at the window's bottom
def test_refined_pupil_is_the_true_circle(r, dx, dy, grow, x, y):
    img = disc(r, x, y)
    found = segmentation.refine_pupil(img, x + dx * r, y + dy * r, grow * r, ANGLES)
    # the operator leaves the top arc out (lids), so a small pupil can be fitted ~1.5 px high with a
    # slightly larger radius whatever the start; a window-bound search misses by >= 0.1 r
    tol = 0.08 * r + 0.5
    assert abs(found.x - x) <= tol and abs(found.y - y) <= tol and abs(found.r - r) <= 0.1 * r
