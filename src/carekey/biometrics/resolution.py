"""The resolution an image file declares about itself, for fingerprint and iris capture.

Read from the file's own metadata, never guessed from its size:

- TIFF: XResolution / YResolution (tags 282, 283) with ResolutionUnit (296: 2 = inch, the TIFF
  default, 3 = centimetre; 1 = "no absolute unit" says nothing);
- PNG: the pHYs chunk in pixels per metre (unit 1); unit 0 is an aspect ratio only;
- BMP: biXPelsPerMeter / biYPelsPerMeter of the info header;
- JPEG: the JFIF density (unit 1 = dpi, 2 = dots per cm; 0 is an aspect ratio only) or, without
  one, EXIF XResolution / ResolutionUnit (Pillow reads both into ``info["dpi"]``).

Values that image software writes when nobody measured anything are not a resolution: 72 ppi
(the Macintosh / EXIF / TIFF default) and 96 ppi (the Windows default, Pillow's default for BMP),
and anything under 10 ppi (e.g. "1 x 1"). No fingerprint or iris scanner captures at 72 or 96 ppi,
and a print that really were that small fails the capture's size checks anyway. Such files count
as untagged and the caller applies its nominal resolution (fingerprints: 500 ppi, ISO/IEC 19794-4).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError
from PIL.TiffImagePlugin import TiffImageFile

SOFTWARE_DEFAULT_PPI = (72, 96)
MIN_MEANINGFUL_PPI = 10.0
_CM_PER_INCH = 2.54


@dataclass(frozen=True)
class Resolution:
    """Pixels per inch along x and y, and which metadata said so."""

    x: float
    y: float
    source: str

    @property
    def ppi(self) -> float:
        """One figure for both axes (their mean; scanners have square pixels)."""
        return (self.x + self.y) / 2.0


def declared_resolution(image_bytes: bytes) -> Resolution | None:
    """The resolution the file declares, or None when it declares none (or only a software default).

    Unreadable files give None too: decoding them is the capture stage's job, with its own message.
    """
    try:
        with Image.open(io.BytesIO(bytes(image_bytes))) as img:
            found = _tiff(img) if isinstance(img, TiffImageFile) else _from_info(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, ZeroDivisionError, TypeError):
        return None
    if found is None:
        return None
    x, y, source = found
    if not all(_meaningful(v) for v in (x, y)):
        return None
    return Resolution(float(x), float(y), source)


def _meaningful(value: float) -> bool:
    return value >= MIN_MEANINGFUL_PPI and round(value) not in SOFTWARE_DEFAULT_PPI


def _tiff(img: TiffImageFile) -> tuple[float, float, str] | None:
    tags = img.tag_v2
    if 282 not in tags:
        return None
    x = float(tags[282])
    y = float(tags.get(283, x))
    unit = int(tags.get(296, 2))
    if unit == 3:
        return x * _CM_PER_INCH, y * _CM_PER_INCH, "TIFF resolution (per cm)"
    if unit == 2:
        return x, y, "TIFF resolution (per inch)"
    return None


def _from_info(img: Image.Image) -> tuple[float, float, str] | None:
    dpi = img.info.get("dpi")
    if not dpi:
        return None
    x, y = (float(dpi[0]), float(dpi[1])) if isinstance(dpi, tuple) else (float(dpi), float(dpi))
    return x, y, f"{img.format} resolution"
