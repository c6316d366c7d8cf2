"""Stage 2: specular reflections, pupil and limbus circles.

The pupil is found as the darkest round blob (threshold sweep + circularity, after a morphological
opening that removes eyelashes) and refined, like the limbus, with Daugman's integro-differential
operator: the circle (x0, y0, r) that maximizes the Gaussian-smoothed radial derivative of the mean
intensity along the circle (J. Daugman, "High confidence visual recognition of persons by a test of
statistical independence", IEEE PAMI 15(11), 1993). The limbus is searched on the two lateral
arcs only, which eyelids rarely cover (the same choice as L. Masek's 2003 thesis and open-iris's
geometry refinement). Written here with numpy/scipy/OpenCV because no maintained package offers it
without a learned model downloaded at run time.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris.capture import EyeImage
from carekey.errors import CaptureRejected


@dataclass(frozen=True)
class Circle:
    x: float
    y: float
    r: float

    def __post_init__(self) -> None:
        if not (np.isfinite([self.x, self.y, self.r]).all() and self.r > 0):
            raise ValueError(f"invalid circle {self}")


@dataclass(frozen=True)
class Segmentation:
    """Pupil and limbus circles, the image with reflections filled, and the reflection mask."""

    image: np.ndarray  # uint8 (h, w), reflections inpainted
    reflections: np.ndarray  # bool (h, w)
    lashes: np.ndarray  # bool (h, w): thin dark structures (eyelashes), outside the pupil
    pupil: Circle
    iris: Circle
    pupil_contrast: float  # grey levels, iris minus pupil
    limbus_contrast: float  # grey levels, sclera minus iris

    def __post_init__(self) -> None:
        if not (self.image.shape == self.reflections.shape == self.lashes.shape):
            raise ValueError("image and reflection mask must have the same shape")
        if self.pupil.r >= self.iris.r:
            raise ValueError("pupil must be smaller than the iris")


def segment(eye: EyeImage) -> Segmentation:
    img, reflections = _fill_reflections(eye.pixels)
    pupil, pupil_contrast = _find_pupil(img)
    iris, limbus_contrast = _find_limbus(img, pupil)
    lashes = _find_lashes(img, pupil, iris, pupil_contrast)
    return Segmentation(img, reflections, lashes, pupil, iris, pupil_contrast, limbus_contrast)


def _find_lashes(img: np.ndarray, pupil: Circle, iris: Circle, pupil_contrast: float) -> np.ndarray:
    """Eyelashes: thin structures much darker than their neighbourhood (black top-hat).

    The threshold is the larger of a share of the iris-to-pupil step (independent of exposure) and
    the strongest black top-hat that the iris's own texture (crypts, furrows) shows where lashes do
    not reach — the lateral iris, within 30 degrees of horizontal (a per-image, data-driven bound).
    """
    size = max(5, int(round(pupil.r * 0.3)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    blackhat = cv2.morphologyEx(img, cv2.MORPH_BLACKHAT, kernel).astype(np.float64)
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    dist = np.hypot(xx - pupil.x, yy - pupil.y)
    angle = np.degrees(np.arctan2(np.abs(yy - pupil.y), np.abs(xx - pupil.x)))
    lateral = (dist > 1.3 * pupil.r) & (np.hypot(xx - iris.x, yy - iris.y) < 0.9 * iris.r) & (angle < 30)
    texture = float(np.quantile(blackhat[lateral], P.LASH_TEXTURE_QUANTILE)) if lateral.sum() > 50 else 0.0
    texture = min(texture, P.LASH_CONTRAST_MAX * pupil_contrast)  # lashes over the lateral iris too
    # upper lashes hang over the iris: a lower exposure-relative threshold above the pupil centre
    level = np.maximum(np.where(yy < pupil.y, P.LASH_CONTRAST_UPPER, P.LASH_CONTRAST) * pupil_contrast, texture)
    lashes = (blackhat > level) & (dist > pupil.r * 1.15)
    lashes = cv2.dilate(lashes.astype(np.uint8), np.ones((3, 3), np.uint8))
    # Eyelashes grow from the lids: a dark thread over the iris is a lash only when it reaches beyond
    # the limbus above or below the eye. Crypts and furrows — dark, thin, but enclosed by the iris —
    # are texture, not noise (this matters for sensors that show the iris in high contrast).
    count, labels = cv2.connectedComponents(lashes, connectivity=8)
    outside = (np.hypot(xx - iris.x, yy - iris.y) > iris.r * 1.02) & (np.abs(yy - iris.y) > P.LASH_ROOT_HEIGHT * iris.r)
    rooted = np.zeros(count, bool)
    rooted[np.unique(labels[outside & (lashes > 0)])] = True
    rooted[0] = False
    return rooted[labels]


def _fill_reflections(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Small spots much brighter than their surroundings (white top-hat), dilated and inpainted."""
    size = max(7, int(min(img.shape) * 0.06) | 1)
    tophat = cv2.morphologyEx(img, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    level = P.SPECULAR_LEVEL * float(np.percentile(img, 99.9))
    spots = (tophat > 40) & (img >= min(level, 250))
    spots = cv2.dilate(spots.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if not spots.any():
        return img.copy(), spots
    return cv2.inpaint(img, spots.astype(np.uint8), 3, cv2.INPAINT_TELEA), spots


def _find_pupil(img: np.ndarray) -> tuple[Circle, float]:
    """The pupil: the round dark blob with the most complete dark-to-bright ring around it.

    Candidates are the connected components of a sweep of dark thresholds (after an opening that
    breaks eyelashes off), at any radius between PUPIL_RADIUS_FRACTION of the shorter image side;
    each is scored by circularity x the share of directions in which the ring just outside is
    clearly brighter than the blob x its step, so an eyelash clump (broken ring: more lashes around
    it) or a shadow (soft step) loses to the pupil whatever the scale. Specular spots were inpainted
    before, so a uniformly dark pupil and one with a glint look the same here.
    """
    side = min(img.shape)
    rmin, rmax = (f * side for f in P.PUPIL_RADIUS_FRACTION)
    smooth = cv2.medianBlur(img, 5)
    blurred = cv2.GaussianBlur(img, (0, 0), 1.0).astype(np.float64)
    k = max(3, int(rmin) | 1)
    # two openings: a small one keeps small pupils, a larger one cuts a big pupil free of the lashes
    # that touch it (both sizes relative to the frame)
    openers = [cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (s, s)) for s in (k, 3 * k)]
    lo = int(smooth.min())
    spread = max(float(np.percentile(smooth, 90)) - lo, 30.0)
    ring_angles = np.deg2rad(np.arange(0, 360, 10))
    found: list[tuple[float, float, float, float, float]] = []  # (score, x, y, r, interior grey level)
    for frac, opener in itertools.product(P.PUPIL_THRESHOLDS, openers):
        dark = cv2.morphologyEx((smooth <= lo + frac * spread).astype(np.uint8), cv2.MORPH_OPEN, opener)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
        inscribed = cv2.distanceTransform(dark, cv2.DIST_L2, 5)
        for i in range(1, count):
            area = float(stats[i, cv2.CC_STAT_AREA])
            if np.sqrt(area / np.pi) < rmin:
                continue
            x0, y0, w, h = (
                int(stats[i, c]) for c in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT)
            )
            own = labels[y0 : y0 + h, x0 : x0 + w] == i
            # darker and larger round blobs first: the pupil is the darkest round thing in an eye image,
            # a clump of lashes against bright skin can be as round and as contrasted, but is small
            interior = float(np.median(smooth[y0 : y0 + h, x0 : x0 + w][own]))
            darkness = max(0.0, 1.0 - (interior - lo) / spread)
            discs: list[tuple[float, float, float, float]] = []  # (weight, x, y, radius)
            r = float(np.sqrt(area / np.pi))
            if r <= rmax:  # the blob as a whole, when it is round
                pts = np.column_stack(np.nonzero(own)[::-1]).astype(np.float32)
                (cx, cy), rc = cv2.minEnclosingCircle(pts)
                circularity = area / (np.pi * max(rc, 1.0) ** 2)
                if circularity >= P.PUPIL_MIN_CIRCULARITY:
                    discs.append((circularity, x0 + cx, y0 + cy, r))
            # the largest disc inside the blob: a pupil whose edge touches lashes or a lid shadow
            dist = np.where(own, inscribed[y0 : y0 + h, x0 : x0 + w], 0)
            iy, ix = np.unravel_index(int(np.argmax(dist)), dist.shape)
            ri = float(dist[iy, ix]) + 0.5
            if rmin <= ri <= rmax and ri < 0.9 * r:
                discs.append((P.PUPIL_INSCRIBED_WEIGHT, x0 + float(ix), y0 + float(iy), ri))
            for weight, cx, cy, rr in discs:
                score = weight * darkness * np.sqrt(rr / rmin) * _ring_support(blurred, cx, cy, rr, ring_angles)
                if score > 0:
                    found.append((score, cx, cy, rr, interior))
    best = max(found, default=None)
    # the innermost dark disc: a dark iris against bright sclera is itself a round dark blob (with
    # the pupil inside); a clearly ringed smaller disc inside the best candidate is the pupil
    while best is not None:
        inner = [
            c
            for c in found
            if c[3] < P.PUPIL_NESTED_RATIO * best[3]
            and np.hypot(c[1] - best[1], c[2] - best[2]) < 0.5 * best[3]
            and c[0] >= P.PUPIL_NESTED_SCORE * best[0]
            and c[4] < best[4] - P.PUPIL_NESTED_DARKER * spread
        ]
        if not inner:
            break
        darkest = min(c[4] for c in inner)  # of the discs inside, the darkest (a pupil, not pupil + iris)
        best = max(c for c in inner if c[4] <= darkest + 0.2 * P.PUPIL_NESTED_DARKER * spread)
    if best is None:
        raise CaptureRejected(
            "No eye found, or the eye is closed (no pupil visible); please recapture with the eye open and centred.",
            reason="no_eye",
        )
    _, cx, cy, r0, _ = best
    angles = np.deg2rad(np.r_[np.arange(-50, 230, 6)])  # the top (lid) arc is left out
    try:
        circle = refine_pupil(blurred, cx, cy, r0, angles)
    except CaptureRejected:  # a dark sliver between the lids has no circular boundary
        raise CaptureRejected(
            "No eye found, or the eye is closed (no circular pupil boundary); please recapture "
            "with the eye open and centred.",
            reason="no_eye",
        ) from None
    contrast = _ring_step(blurred, circle, angles, width=max(2.0, 0.15 * circle.r))
    if contrast < P.MIN_PUPIL_CONTRAST:
        raise CaptureRejected("No eye found (pupil too faint); please recapture.", reason="no_eye")
    return circle, contrast


def refine_pupil(blurred: np.ndarray, cx: float, cy: float, r0: float, angles: np.ndarray) -> Circle:
    """The pupil circle near a candidate disc (cx, cy, r0): integro-differential search over centres
    within 0.15 r0 and radii 0.7..1.35 r0.

    The candidate can be off-centre and too large (a pupil merged with the iris's dark rim or
    lashes): the best circle then sits on the edge of the centre window, with a radius grown to reach
    the far side. The search is repeated around each better circle until centre and radius stay inside their
    windows (coarse-to-fine hill climbing, as in Daugman's own iterative refinement).
    """
    step = max(0.5, r0 / 60)
    sigma = 1.5
    # radii sampled 3 sigma beyond the window on both sides and never chosen there: an edge near the
    # window's end keeps its full derivative (a candidate 1.4x too large puts the true radius at 0.72 r0)
    margin = max(2, int(np.ceil(3 * sigma / step)))

    def search(x: float, y: float, r: float) -> tuple[Circle, float, bool]:
        shift = max(2.0, 0.15 * r)
        lo, hi = 0.7 * r, 1.35 * r
        radii = np.arange(lo - margin * step, hi + margin * step, step)
        keep = radii > 0.5  # a tiny pupil: no room for the whole margin below it
        radii, below = radii[keep], max(2, margin - int((~keep).sum()))
        found, value = _integro_differential(
            blurred, x, y, shift, radii, angles, step=step, sigma=sigma, margin=(below, margin)
        )
        # the centre grid's outermost offsets lie within one step of the shift
        on_edge = max(abs(found.x - x), abs(found.y - y)) >= shift - step or not lo + step < found.r < hi - step
        return found, value, on_edge

    circle, value, on_edge = search(cx, cy, r0)
    for _ in range(P.PUPIL_REFINE_ROUNDS):
        if not on_edge:
            break
        again, better, on_edge = search(circle.x, circle.y, circle.r)
        if better <= value:
            break
        circle, value = again, better
    return circle


def _ring_support(img: np.ndarray, cx: float, cy: float, r: float, angles: np.ndarray) -> float:
    """Median step from a dark disc to the ring just outside it, times the share of directions in
    which that step is clear (> MIN_PUPIL_CONTRAST); out-of-image directions count as missing."""
    inner = np.concatenate(
        [
            ndimage.map_coordinates(
                img, [cy + k * r * np.sin(angles), cx + k * r * np.cos(angles)], order=1, mode="nearest"
            )[None]
            for k in (0.3, 0.6)
        ]
    ).mean(axis=0)
    ox, oy = cx + P.PUPIL_RING_OUTER * r * np.cos(angles), cy + P.PUPIL_RING_OUTER * r * np.sin(angles)
    outer = ndimage.map_coordinates(img, [oy, ox], order=1, mode="nearest")
    inside = (ox >= 0) & (ox <= img.shape[1] - 1) & (oy >= 0) & (oy <= img.shape[0] - 1)
    step = np.where(inside, outer - inner, 0.0)
    clear = step > P.MIN_PUPIL_CONTRAST
    return float(np.median(step)) * float(clear.mean()) ** 2


def _find_limbus(img: np.ndarray, pupil: Circle) -> tuple[Circle, float]:
    blurred = cv2.GaussianBlur(img, (0, 0), 1.5).astype(np.float64)
    lo_ratio, hi_ratio = P.PUPIL_IRIS_RATIO
    rmax = min(pupil.r / lo_ratio, P.IRIS_RADIUS_MAX_FRACTION * max(img.shape))
    step = max(1.0, pupil.r / 40)
    radii = np.arange(pupil.r / hi_ratio, rmax, step)
    angles = np.deg2rad(np.concatenate([np.arange(lo, hi + 0.1, 2.5) for lo, hi in P.LIMBUS_ARCS]))
    offset = P.IRIS_CENTER_OFFSET * pupil.r / 0.4  # offset relative to a typical iris radius
    shift = (offset, offset * P.IRIS_CENTER_VERTICAL)
    near = np.arange(1.15, 1.4, 0.05) * pupil.r  # surely iris whatever the dilation
    nx, ny = pupil.x + near[:, None] * np.cos(angles), pupil.y + near[:, None] * np.sin(angles)
    iris_level = float(np.median(ndimage.map_coordinates(blurred, [ny.ravel(), nx.ravel()], order=1)))
    # the limbus is a soft edge whose width grows with the iris: smooth the radial derivative on that
    # scale, or a sharp but wrong edge (eyelid, image border) beats a wide true limbus on a large iris
    sigma = max(1.5, P.LIMBUS_DERIVATIVE_SIGMA * pupil.r)
    try:
        circle, _ = _integro_differential(
            blurred,
            pupil.x,
            pupil.y,
            shift,
            radii,
            angles,
            step=step,
            inside_level=iris_level,
            sigma=sigma,
            min_valid=P.LIMBUS_MIN_IN_IMAGE,
        )
    except CaptureRejected:  # no iris-to-sclera edge anywhere on the lateral arcs: lids cover them
        raise CaptureRejected(
            "No eye found, or the eye is closed (no iris boundary beside the pupil); please "
            "recapture with the eye open and centred.",
            reason="no_eye",
        ) from None
    contrast = _ring_step(blurred, circle, angles, width=max(3.0, 0.08 * circle.r))
    if contrast < P.MIN_LIMBUS_CONTRAST:
        raise CaptureRejected("No eye found (iris boundary not visible); please recapture.", reason="no_eye")
    return circle, contrast


def _integro_differential(
    img: np.ndarray,
    cx: float,
    cy: float,
    shift: float | tuple[float, float],
    radii: np.ndarray,
    angles: np.ndarray,
    step: float = 0.5,
    inside_level: float | None = None,
    sigma: float = 1.5,
    min_valid: float = 0.6,
    margin: tuple[int, int] = (2, 2),
) -> tuple[Circle, float]:
    """max over centres and radii of d/dr G_sigma * mean_{circle}(I), dark inside / bright outside.

    The ``margin`` first and last radii (counts) are never chosen: the smoothed derivative is distorted
    there (the filter reflects the profile at its ends, flattening an edge that lies near them).

    With ``inside_level`` (the iris grey level), a candidate only counts when just inside it the
    image is still closer to the iris than to what lies outside: this rejects the sclera-to-skin
    edges at the eye corners, which can be stronger than a soft limbus.
    """
    sx, sy = shift if isinstance(shift, tuple) else (shift, shift)
    offx, offy = np.arange(-sx, sx + 1e-9, step), np.arange(-sy, sy + 1e-9, step)
    xs = cx + offx[:, None, None, None] + radii[None, None, :, None] * np.cos(angles)[None, None, None, :]
    ys = cy + offy[None, :, None, None] + radii[None, None, :, None] * np.sin(angles)[None, None, None, :]
    xs, ys = np.broadcast_arrays(xs, ys)
    inside = (xs >= 0) & (xs <= img.shape[1] - 1) & (ys >= 0) & (ys <= img.shape[0] - 1)
    values = ndimage.map_coordinates(img, [ys.ravel(), xs.ravel()], order=1, mode="nearest").reshape(xs.shape)
    valid = inside.mean(axis=3)
    means = np.where(inside, values, 0.0).sum(axis=3) / np.maximum(inside.sum(axis=3), 1)
    deriv = ndimage.gaussian_filter1d(means, sigma=sigma / max(radii[1] - radii[0], 1e-9), axis=2, order=1)
    deriv = np.where(valid >= min_valid, deriv, -np.inf)
    deriv[..., : margin[0]] = -np.inf
    deriv[..., len(radii) - margin[1] :] = -np.inf
    if inside_level is not None:
        w = max(2, int(round(P.LIMBUS_BAND * float(np.median(radii)) / step)))
        inner = np.roll(means, w, axis=2)
        outer = np.roll(means, -w, axis=2)
        iris_inside = inner - inside_level <= P.LIMBUS_INSIDE_SHARE * (outer - inside_level)
        iris_inside[..., :w] = True
        deriv = np.where(iris_inside, deriv, -np.inf)
    i, j, k = np.unravel_index(int(np.argmax(deriv)), deriv.shape)
    if not np.isfinite(deriv[i, j, k]):
        raise CaptureRejected("No eye found (no circular boundary); please recapture.", reason="no_eye")
    return Circle(cx + offx[i], cy + offy[j], float(radii[k])), float(deriv[i, j, k])


def _ring_step(img: np.ndarray, c: Circle, angles: np.ndarray, width: float) -> float:
    """Mean intensity just outside the circle minus just inside it (grey levels)."""

    def ring(r: float) -> float:
        xs, ys = c.x + r * np.cos(angles), c.y + r * np.sin(angles)
        return float(ndimage.map_coordinates(img, [ys, xs], order=1, mode="nearest").mean())

    return ring(c.r + width) - ring(max(c.r - width, 0.5))
