"""Stage 3: Daugman's rubber-sheet model — the iris annulus unwrapped onto a fixed (radius, angle) grid.

Each point is a linear blend between the pupil boundary and the limbus along the same angle, so the
grid absorbs pupil dilation and a non-concentric pupil (Daugman 1993, section on "rubber sheet").
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris.segmentation import Circle, Segmentation


@dataclass(frozen=True)
class NormalizedIris:
    """Texture sampled on NORM_RADIAL rows (pupil -> limbus) x NORM_ANGULAR columns (angle, y down)."""

    texture: np.ndarray  # float32 (NORM_RADIAL, NORM_ANGULAR), grey levels
    reflections: np.ndarray  # bool, same shape: specular spots and eyelashes (from segmentation)
    outside: np.ndarray  # bool, same shape: samples that fell outside the image
    pupil_step: float = 0.0  # grey levels from pupil to iris (segmentation)
    limbus_step: float = 0.0  # grey levels from iris to sclera (segmentation)

    def __post_init__(self) -> None:
        shape = (P.NORM_RADIAL, P.NORM_ANGULAR)
        if self.texture.shape != shape or self.reflections.shape != shape or self.outside.shape != shape:
            raise ValueError(f"normalized iris must be {shape}")


def canonical(seg: Segmentation) -> tuple[np.ndarray, np.ndarray, Circle, Circle]:
    """Image, noise mask and circles rescaled so that the iris has CANONICAL_IRIS_RADIUS.

    The rubber sheet has a fixed number of samples; a large iris (a close-up or a high-resolution
    sensor) sampled straight onto it would alias its fine texture into the code, differently from the
    same eye captured smaller. Area-averaging down to one canonical size first makes the code depend
    on the eye, not on the sensor's resolution (smaller irises are used as they are: upsampling
    invents nothing).
    """
    noise = (seg.reflections | seg.lashes).astype(np.float32)
    scale = P.CANONICAL_IRIS_RADIUS / seg.iris.r
    if scale >= 1.0:
        return seg.image, noise, seg.pupil, seg.iris
    h, w = seg.image.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    sx, sy = size[0] / w, size[1] / h
    image = cv2.resize(seg.image, size, interpolation=cv2.INTER_AREA)
    noise = cv2.resize(noise, size, interpolation=cv2.INTER_AREA)

    def rescale(c: Circle) -> Circle:  # pixel centres: x' + 0.5 = (x + 0.5) * s
        return Circle((c.x + 0.5) * sx - 0.5, (c.y + 0.5) * sy - 0.5, c.r * scale)

    return image, noise, rescale(seg.pupil), rescale(seg.iris)


def rubber_sheet(seg: Segmentation) -> NormalizedIris:
    image, noise, pupil, iris = canonical(seg)
    theta = np.linspace(0.0, 2 * np.pi, P.NORM_ANGULAR, endpoint=False)
    rho = (np.arange(P.NORM_RADIAL) + 0.5) / P.NORM_RADIAL
    px = pupil.x + pupil.r * np.cos(theta)
    py = pupil.y + pupil.r * np.sin(theta)
    ix = iris.x + iris.r * np.cos(theta)
    iy = iris.y + iris.r * np.sin(theta)
    xs = ((1 - rho)[:, None] * px + rho[:, None] * ix).astype(np.float32)
    ys = ((1 - rho)[:, None] * py + rho[:, None] * iy).astype(np.float32)
    h, w = image.shape
    texture = cv2.remap(image.astype(np.float32), xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    spots = cv2.remap(noise, xs, ys, cv2.INTER_LINEAR) > 0.1
    outside = (xs < 0) | (xs > w - 1) | (ys < 0) | (ys > h - 1)
    return NormalizedIris(texture, spots, outside, seg.pupil_contrast, seg.limbus_contrast)
