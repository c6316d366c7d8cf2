"""Foreground: where the finger touched the sensor, as a distance-to-background map.

mindtct finds many false minutiae where ridges end at the edge of the print; those are dropped
when closer than BORDER_MIN_DIST to the background. Segmentation by smoothed gradient energy.
"""

from __future__ import annotations

import cv2
import numpy as np

from carekey.biometrics.fingerprint import parameters as P


def border_distance(pixels: np.ndarray) -> np.ndarray:
    """Distance (pixels) of every pixel to the nearest background pixel; 0 on the background."""
    img = pixels.astype(np.float32)
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1)
    energy = cv2.blur(gx * gx + gy * gy, (P.SEGMENT_BLOCK, P.SEGMENT_BLOCK))
    reference = float(np.percentile(energy, 95))
    fg: np.ndarray = (energy > P.SEGMENT_RELATIVE_ENERGY * reference).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((P.SEGMENT_OPEN, P.SEGMENT_OPEN), np.uint8))
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((P.SEGMENT_CLOSE, P.SEGMENT_CLOSE), np.uint8))
    fg[0, :] = fg[-1, :] = fg[:, 0] = fg[:, -1] = 0  # the image edge is background too
    return cv2.distanceTransform(fg, cv2.DIST_L2, 5)
