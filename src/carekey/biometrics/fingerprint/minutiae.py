"""Minutiae: the feature set, and its extraction with NBIS mindtct (through nbis-py).

Coordinates and directions follow ISO/IEC 19794-2:2005 so that a template survives a round trip
through a standard record unchanged: x, y in pixels (origin top left, y down), direction in units
of 360/256 degrees counter-clockwise from the x axis as seen on the image (y up), kind 1 = ridge
ending, 2 = bifurcation, 0 = other, quality 0..100.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import nbis
import numpy as np

from carekey.biometrics.fingerprint import parameters as P
from carekey.biometrics.fingerprint.enhancement import enhance
from carekey.biometrics.fingerprint.foreground import border_distance
from carekey.errors import CaptureRejected

ANGLE_UNITS = 256  # one turn in ISO/IEC 19794-2:2005 direction units


def _write_in_one_copy(builder: object, value: bytes) -> None:
    """``_UniffiRustBufferBuilder.write`` of nbis-py's generated bindings, as one memmove: the generated one copies
    the image into Rust's buffer one byte per Python statement (about 0.1 s, the GIL held, per PNG: two per
    extraction), which kept two fingers from being extracted in parallel threads. Same bytes, same buffer."""
    data = bytes(value)
    with builder._reserve(len(data)):  # type: ignore[attr-defined]
        rbuf = builder.rbuf  # type: ignore[attr-defined]
        ctypes.memmove(ctypes.addressof(rbuf.data.contents) + rbuf.len, data, len(data))


_BUILDER = getattr(getattr(nbis, "nbis", None), "_UniffiRustBufferBuilder", None)
_BYTEWISE_WRITE = getattr(_BUILDER, "write", None)  # kept for the test that compares the two
if _BUILDER is not None and hasattr(_BUILDER, "_reserve") and _BYTEWISE_WRITE is not None:
    _BUILDER.write = _write_in_one_copy  # only where the generated layout is known


@dataclass(frozen=True, eq=False)  # eq=False: __eq__ below compares the arrays, and the class stays unhashable
class Minutiae:
    """Immutable minutiae of one impression, in ISO/IEC 19794-2 units (see module docstring)."""

    x: np.ndarray  # uint16
    y: np.ndarray  # uint16
    angle: np.ndarray  # uint8, 360/256 degree units, counter-clockwise
    kind: np.ndarray  # uint8
    quality: np.ndarray  # uint8
    width: int
    height: int

    def __len__(self) -> int:
        return int(self.x.size)

    def xyt(self) -> np.ndarray:
        """n x 3 float: x, y and the direction in radians in image coordinates (y down)."""
        theta = -self.angle.astype(np.float64) * (2 * math.pi / ANGLE_UNITS)
        return np.column_stack([self.x, self.y, theta]).astype(np.float64)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Minutiae):
            return NotImplemented
        return (self.width, self.height) == (other.width, other.height) and all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in ("x", "y", "angle", "kind", "quality")
        )

    @staticmethod
    def from_arrays(x, y, angle, kind, quality, width: int, height: int) -> Minutiae:
        return Minutiae(
            np.asarray(x, dtype=np.uint16),
            np.asarray(y, dtype=np.uint16),
            np.asarray(angle, dtype=np.uint8),
            np.asarray(kind, dtype=np.uint8),
            np.asarray(quality, dtype=np.uint8),
            int(width),
            int(height),
        )


@lru_cache(maxsize=2)  # one with NFIQ 2, one without: a size of 1 rebuilt both (~1 s each) on every extraction
def _extractor(nfiq2: bool) -> nbis.NbisExtractor:
    settings = nbis.NbisExtractorSettings(
        min_quality=P.MINDTCT_MIN_RELIABILITY,
        get_center=False,
        check_fingerprint=False,
        compute_nfiq2=nfiq2,
        ppi=float(P.NOMINAL_DPI),
    )
    return nbis.new_nbis_extractor(settings)


@dataclass(frozen=True)
class Extraction:
    minutiae: Minutiae
    nfiq2: int | None


def quality_nfiq2(image: np.ndarray) -> int:
    """NIST NFIQ 2 score (0..100) of a 500 dpi grayscale image; 0 when NFIQ 2 gives up on it."""
    try:
        return int(_extractor(True).extract_minutiae(_png(image)).quality().score)
    except nbis.NbisError.Nfiq2ComputeFailed:
        return 0
    except nbis.NbisError as exc:
        raise CaptureRejected("No fingerprint could be read from the image; please recapture.", cause=str(exc)) from exc


def _png(image: np.ndarray) -> bytes:
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise CaptureRejected("The image could not be processed; please recapture the finger.")
    return png.tobytes()


def extract_minutiae(image: np.ndarray, with_quality: bool = True) -> Extraction:
    """Minutiae of a 500 dpi 8-bit grayscale image (mindtct), with its NFIQ2 score if asked."""
    nfiq2 = quality_nfiq2(image) if with_quality else None  # on the image as captured
    try:
        found = _extractor(False).extract_minutiae(_png(enhance(image)))
    except nbis.NbisError as exc:
        raise CaptureRejected("No fingerprint could be read from the image; please recapture.", cause=str(exc)) from exc
    items = found.get()
    h, w = image.shape
    depth = border_distance(image)  # drop minutiae on the edge of the print: mostly false
    items = [m for m in items if depth[min(max(m.y(), 0), h - 1), min(max(m.x(), 0), w - 1)] >= P.BORDER_MIN_DIST]
    if not items:
        return Extraction(Minutiae.from_arrays([], [], [], [], [], w, h), nfiq2)
    rel = np.array([m.reliability() for m in items])
    order = np.argsort(-rel, kind="stable")[: P.MAX_MINUTIAE]
    items = [items[i] for i in sorted(order)]
    rel = rel[sorted(order)]
    x = np.clip([m.x() for m in items], 0, w - 1)
    y = np.clip([m.y() for m in items], 0, h - 1)
    # nbis-py reports degrees counter-clockwise (ANSI/NIST convention), as ISO/IEC 19794-2 does.
    angle = np.round(np.array([m.angle() for m in items]) * ANGLE_UNITS / 360.0).astype(np.int64) % ANGLE_UNITS
    kind = [1 if m.kind() == nbis.MinutiaKind.RIDGE_ENDING else 2 for m in items]
    quality = np.clip(np.round(rel * 100), 1, 100)
    return Extraction(Minutiae.from_arrays(x, y, angle, kind, quality, w, h), nfiq2)
