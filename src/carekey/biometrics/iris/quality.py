"""Capture quality checks that need the segmentation: focus, eyelid occlusion, usable iris.

Focus is measured where it matters and independently of the camera: the sharpness of the pupil
boundary, i.e. the steepest radial intensity slope across it divided by the height of the step. An
in-focus edge rises in ~2 px (ratio ~0.5); optical or motion blur spreads it (ratio falls), whatever
the contrast. Related to the edge-width focus measures surveyed in ISO/IEC 29794-6.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris.occlusion import MaskedIris
from carekey.biometrics.iris.segmentation import Segmentation
from carekey.errors import CaptureRejected


def pupil_edge_sharpness(seg: Segmentation) -> float:
    """Steepest radial slope across the pupil edge / step height, measured at the canonical iris size.

    The code is computed on the iris area-averaged down to CANONICAL_IRIS_RADIUS (``normalization``),
    so focus is judged on that scale too: a close-up's edge spans more pixels by iris.r / canonical,
    and the profile and its slope are taken in canonical pixels (a sharp large iris is not refused as
    out of focus; irises at or below the canonical size are measured as captured).
    """
    p = seg.pupil
    zoom = max(1.0, seg.iris.r / P.CANONICAL_IRIS_RADIUS)  # source pixels per canonical pixel
    angles = np.deg2rad(np.arange(-50, 230, 5))
    radii = p.r + zoom * np.arange(-6.0, 6.01, 0.5)
    xs = p.x + radii[:, None] * np.cos(angles)[None, :]
    ys = p.y + radii[:, None] * np.sin(angles)[None, :]
    prof = ndimage.map_coordinates(seg.image.astype(np.float64), [ys, xs], order=1, mode="nearest")
    step = prof[-4:].mean(axis=0) - prof[:4].mean(axis=0)
    slope = np.diff(prof, axis=0).max(axis=0) / 0.5
    ok = step > P.MIN_PUPIL_CONTRAST * 0.5
    if not ok.any():
        return 0.0
    return float(np.median(slope[ok] / step[ok]))


def pupil_visibility(seg: Segmentation) -> float:
    """Share of the pupil boundary that shows a clear dark-to-bright step; lids cut it when the eye
    is closing, and a dark blob mistaken for a pupil rarely has a full ring.

    Under the upper lid, a direction whose inner sample is still pupil-dark but whose outer sample is
    dark too is left out: the pupil is visible there, and what hides the step lies over the iris
    (eyelashes hanging over it, the lid's shadow), not over the pupil. A lid closing over the pupil
    puts bright skin inside the circle and still counts as hidden; so does any such direction on the
    lateral and lower ring, where a wrong dark blob (a lid crease) fails. IITD's heavy upper lashes made
    open eyes with correct circles fail at 0.68-0.69 (034L_3, 038L_3, 038L_5, 074L_1).
    """
    p = seg.pupil
    degrees = np.arange(0, 360, 5)
    angles = np.deg2rad(degrees)
    img = seg.image.astype(np.float64)

    def ring(k: float) -> np.ndarray:
        return ndimage.map_coordinates(
            img, [p.y + k * p.r * np.sin(angles), p.x + k * p.r * np.cos(angles)], order=1, mode="nearest"
        )

    inner, outer = ring(P.PUPIL_RING_IN), ring(P.PUPIL_RING_OUT)
    clear = outer - inner > 0.5 * seg.pupil_contrast
    pupil_level = float(np.median(inner))
    lo, hi = P.EYELID_SECTORS[0]
    upper = (degrees >= lo) & (degrees <= hi)
    shadowed = upper & ~clear & (inner < pupil_level + 0.25 * seg.pupil_contrast)
    seen = ~shadowed if shadowed.mean() < 0.5 else np.ones_like(clear)
    return float(np.mean(clear[seen]))


def iris_in_frame(seg: Segmentation) -> float:
    """Share of the limbus circle that lies inside the image."""
    angles = np.deg2rad(np.arange(0, 360, 5))
    xs, ys = seg.iris.x + seg.iris.r * np.cos(angles), seg.iris.y + seg.iris.r * np.sin(angles)
    h, w = seg.image.shape
    return float(np.mean((xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)))


def score(seg: Segmentation, masked: MaskedIris) -> dict[str, float]:
    """Segmentation quality in [0, 1] (``quality``, the geometric mean of the parts) and its parts:
    pupil ring completeness, limbus and pupil contrast against the acceptance minimum, focus, the
    usable share of the iris band and the share of the limbus inside the frame. Each part is 1 when
    it is comfortably (2x) above the level at which the capture would be rejected."""
    parts = {
        "pupil_visible": pupil_visibility(seg),
        "pupil_contrast": min(1.0, seg.pupil_contrast / (2 * P.MIN_PUPIL_CONTRAST)),
        "limbus_contrast": min(1.0, seg.limbus_contrast / (2 * P.MIN_LIMBUS_CONTRAST)),
        "focus": min(1.0, pupil_edge_sharpness(seg) / (2 * P.MIN_PUPIL_EDGE_SHARPNESS)),
        "usable_iris": min(1.0, (1.0 - float(masked.noise.mean())) / (2 * P.MIN_USABLE_IRIS)),
        "iris_in_frame": iris_in_frame(seg),
    }
    values = np.clip(np.array(list(parts.values())), 1e-3, 1.0)
    return {"quality": float(np.exp(np.log(values).mean()))} | {k: round(v, 3) for k, v in parts.items()}


def check(seg: Segmentation, masked: MaskedIris) -> None:
    """Raise CaptureRejected with a recapture hint when the capture cannot give a reliable code."""
    sharpness = pupil_edge_sharpness(seg)
    if sharpness < P.MIN_PUPIL_EDGE_SHARPNESS:
        raise CaptureRejected(
            "The iris image is out of focus; please hold still and recapture.",
            reason="out_of_focus",
            sharpness=round(sharpness, 3),
        )
    visible = pupil_visibility(seg)
    if visible < P.MIN_PUPIL_VISIBLE or masked.eyelid_fraction > P.MAX_EYELID_OCCLUSION:
        raise CaptureRejected(
            "The eye is closed or heavily covered by the eyelids; please ask the person to "
            "open the eye wide and recapture.",
            reason="occluded",
            eyelid_fraction=round(masked.eyelid_fraction, 3),
            pupil_visible=round(visible, 3),
        )
    usable = 1.0 - float(masked.noise.mean())
    if usable < P.MIN_USABLE_IRIS:
        raise CaptureRejected(
            "Too little of the iris is visible (eyelids, eyelashes or reflections); please recapture.",
            reason="too_little_iris",
            usable=round(usable, 3),
        )
