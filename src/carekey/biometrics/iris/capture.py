"""Stage 1: decode an eye image and reject frames that cannot be an eye at all.

Quality checks that need the segmentation (focus, occlusion, usable iris) live in ``quality.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from carekey.biometrics.image_header import check_pixels
from carekey.biometrics.iris import parameters as P
from carekey.errors import CaptureRejected


@dataclass(frozen=True)
class EyeImage:
    """An 8-bit grayscale eye image (near-infrared or visible converted to grey)."""

    pixels: np.ndarray  # uint8, shape (h, w)

    def __post_init__(self) -> None:
        px = self.pixels
        if not isinstance(px, np.ndarray) or px.dtype != np.uint8 or px.ndim != 2:
            raise ValueError("EyeImage needs a 2-D uint8 array")
        px.setflags(write=False)


def decode(image_bytes: bytes) -> EyeImage:
    """Decode PNG, BMP, TIFF or JPEG bytes into a grayscale eye image, or reject the capture."""
    if not isinstance(image_bytes, bytes | bytearray | memoryview) or len(image_bytes) == 0:
        raise CaptureRejected("The iris image is empty; please recapture.", reason="empty")
    check_pixels(bytes(image_bytes))  # from the header, before decoding
    raw = np.frombuffer(bytes(image_bytes), dtype=np.uint8)
    img = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if img is None or img.size == 0:
        raise CaptureRejected(
            "The iris image could not be read (not a PNG, BMP, TIFF or JPEG file); please recapture.",
            reason="unreadable",
        )
    return from_array(img)


def from_array(img: np.ndarray) -> EyeImage:
    """Grey, 8-bit, bounded size; reject tiny, blank or saturated frames."""
    if img.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        img = cv2.cvtColor(img, code) if img.shape[2] in (3, 4) else img[..., 0]
    if img.ndim != 2:
        raise CaptureRejected("The iris image has an unsupported layout; please recapture.", reason="unreadable")
    if img.dtype != np.uint8:
        img = img.astype(np.float64)
        lo, hi = np.percentile(img, [0.1, 99.9])
        img = np.clip((img - lo) * 255.0 / max(hi - lo, 1e-9), 0, 255).astype(np.uint8)
    h, w = img.shape
    if min(h, w) < P.MIN_IMAGE_SIDE:
        raise CaptureRejected(f"The iris image is too small ({w}x{h} px); please recapture closer.", reason="too_small")
    if max(h, w) > P.WORK_SIDE:
        scale = P.WORK_SIDE / max(h, w)
        img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    if float(img.std()) < P.MIN_CONTRAST_STD:
        raise CaptureRejected("No eye found: the image is blank or saturated; please recapture.", reason="no_eye")
    return EyeImage(np.ascontiguousarray(img))
