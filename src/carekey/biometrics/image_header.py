"""A pixel budget checked from an image file's header, before any pixel is decoded.

A small file can declare a huge image (a 213 KB PNG of 15000 x 15000 pixels inflates to 225 MB of 8-bit grey,
a 16-bit one to twice that, and every later stage copies it in float64). Pillow's ``Image.open`` reads only the
header (PNG IHDR, TIFF IFD, JPEG SOF, BMP info header; decoding waits for ``load``), so ``size`` and ``mode``
are known for the cost of a few bytes. Both capture pipelines (fingerprint and iris) call ``check_pixels``
first; the service calls it with ``Settings.max_image_pixels``. Pillow's own guard (``Image.MAX_IMAGE_PIXELS``)
is set to the hard ceiling too, so a path that forgets the check still fails cleanly instead of exhausting memory.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from carekey.errors import CaptureRejected

HARD_MAX_PIXELS = 64_000_000  # no capture pipeline ever decodes more, whatever the settings say
Image.MAX_IMAGE_PIXELS = HARD_MAX_PIXELS

_BYTES_PER_SAMPLE = {
    "1": 1,
    "L": 1,
    "P": 1,
    "LA": 2,
    "RGB": 3,
    "RGBA": 4,
    "CMYK": 4,
    "YCbCr": 3,
    "I;16": 2,
    "I;16B": 2,
    "I;16L": 2,
    "I": 4,
    "F": 4,
}


def check_pixels(image_bytes: bytes, max_pixels: int = HARD_MAX_PIXELS, strict: bool = True) -> tuple[int, int]:
    """(width, height) from the header; CaptureRejected (a 422 problem) when there are more than ``max_pixels``
    or (``strict``) the header is unreadable; not strict, an unreadable file is left to the decoder that follows
    and (0, 0) returned. Nothing is decoded."""
    budget = min(max_pixels, HARD_MAX_PIXELS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(bytes(image_bytes))) as img:
                width, height = img.size
                mode = img.mode
    except Image.DecompressionBombError:
        width, height, mode = budget + 1, 1, "L"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        if not strict:
            return 0, 0
        raise CaptureRejected(
            "The file is not a readable image (PNG, TIFF, BMP or JPEG); please recapture.",
            reason="unreadable",
            cause=str(exc),
        ) from exc
    if width * height > budget or width <= 0 or height <= 0:
        raise CaptureRejected(
            f"The image declares {width} x {height} pixels, more than the {budget:,} a capture may have; "
            "please recapture at the scanner's normal resolution.",
            reason="too_many_pixels",
            pixels=width * height,
            max_pixels=budget,
            bytes_per_pixel=_BYTES_PER_SAMPLE.get(mode, 4),
        )
    return width, height
