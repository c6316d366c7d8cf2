"""Reading ISO/IEC 19794-4:2005 finger image records: the first image and the resolution it declares.

Layout (big-endian), from the standard's general header and finger image header:

    "FIR\\0" | version "010\\0" | record length (6 bytes) | capture device id (2) | acquisition level (2)
    | number of finger images (1) | scale units (1: pixels per inch, 2: per centimetre)
    | scan resolution x, y (2 + 2) | image resolution x, y (2 + 2) | pixel depth (1)
    | compression (1: 0 raw, 1 bit-packed, 2 WSQ, 3 JPEG, 4 JPEG 2000, 5 PNG) | reserved (2)      = 32 bytes
    then per image: data block length (4) | finger position (1) | view count (1) | view number (1)
    | quality (1) | impression type (1) | width (2) | height (2) | reserved (1)                     = 14 bytes
    then the image data.

The image resolution (not the scan resolution) describes the pixels handed over, so it is the one used.
Only what a single-finger capture needs is read; WSQ and bit-packed images are refused with a message.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from carekey.errors import CaptureRejected

MAGIC = b"FIR\x00"
GENERAL_HEADER = 32
IMAGE_HEADER = 14
_CM_PER_INCH = 2.54


@dataclass(frozen=True)
class FingerImage:
    pixels: np.ndarray  # uint8 grayscale
    ppi_x: float
    ppi_y: float


def is_record(data: bytes) -> bool:
    return bytes(data[:4]) == MAGIC


def read(data: bytes) -> FingerImage:
    """The first finger image of a record and its resolution; CaptureRejected when unusable."""
    data = bytes(data)
    if len(data) < GENERAL_HEADER + IMAGE_HEADER or not is_record(data):
        raise CaptureRejected("The ISO/IEC 19794-4 finger image record is truncated; please recapture.")
    units, res_x, res_y, depth, compression = struct.unpack(">B4xHHBB", data[19:30])
    _block, _pos, _views, _view, _quality, _impression, width, height = struct.unpack(
        ">IBBBBBHH", data[GENERAL_HEADER : GENERAL_HEADER + 13]
    )
    if units not in (1, 2) or res_x == 0 or res_y == 0:
        raise CaptureRejected("The ISO/IEC 19794-4 record declares no valid resolution; please recapture.")
    scale = 1.0 if units == 1 else _CM_PER_INCH
    image = data[GENERAL_HEADER + IMAGE_HEADER :]
    if compression == 0:
        if depth != 8 or len(image) < width * height or width == 0 or height == 0:
            raise CaptureRejected(
                "The ISO/IEC 19794-4 record's raw image is not 8-bit or is truncated; please recapture."
            )
        pixels = np.frombuffer(image[: width * height], dtype=np.uint8).reshape(height, width).copy()
    elif compression in (3, 4, 5):
        try:
            with Image.open(io.BytesIO(image)) as img:
                pixels = np.array(img.convert("L"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise CaptureRejected(
                "The image inside the ISO/IEC 19794-4 record is unreadable; please recapture.", cause=str(exc)
            ) from exc
    else:
        name = {1: "bit-packed", 2: "WSQ"}.get(compression, f"compression {compression}")
        raise CaptureRejected(
            f"ISO/IEC 19794-4 records with {name} images are not accepted (raw, JPEG, "
            "JPEG 2000 or PNG); please recapture."
        )
    return FingerImage(pixels, res_x * scale, res_y * scale)


def write(pixels: np.ndarray, ppi: int, compression: int = 0) -> bytes:
    """A one-image record (raw 8-bit or PNG), for tests and for exporting a capture."""
    h, w = pixels.shape
    if compression == 0:
        image = np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()
    elif compression == 5:
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        image = buf.getvalue()
    else:
        raise ValueError("write supports raw (0) and PNG (5) images")
    block = IMAGE_HEADER + len(image)
    length = GENERAL_HEADER + block
    header = (
        MAGIC
        + b"010\x00"
        + length.to_bytes(6, "big")
        + struct.pack(">HHBBHHHHBBH", 0, 31, 1, 1, ppi, ppi, ppi, ppi, 8, compression, 0)
    )
    finger = struct.pack(">IBBBBBHHB", block, 0, 1, 1, 0, 0, w, h, 0)
    return header + finger + image
