"""ISO/IEC 19794-2:2005 finger minutiae records ("FMR\\0", version " 20\\0"): writer and reader.

Written by hand because nbis-py's export does not follow the standard (22-byte header, zero
resolutions, no extended-data length) and no maintained Python library reads or writes it.
Layout, all integers big-endian:

- record header, 24 bytes: format id ``FMR\\0``, version `` 20\\0``, record length (4), capture
  equipment (4-bit compliance + 12-bit id), image width and height (2 + 2, pixels), horizontal and
  vertical resolution (2 + 2, pixels per centimetre), number of finger views (1), reserved (1);
- per finger view: finger position (1), view number (high nibble) and impression type (low
  nibble) (1), finger quality 0..100 (1), number of minutiae (1), then 6 bytes per minutia:
  type (2 bits: 01 ridge ending, 10 bifurcation, 00 other) and x (14 bits), reserved (2 bits) and
  y (14 bits), direction (1, units of 360/256 degrees), quality (1);
- then the extended data block length (2) and that many bytes of extended data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from carekey.biometrics.fingerprint.minutiae import Minutiae
from carekey.errors import TemplateError

MAGIC = b"FMR\x00"
VERSION = b" 20\x00"
HEADER = struct.Struct(">4s4sIHHHHHBB")
VIEW = struct.Struct(">BBBB")
_MAX_COORD = (1 << 14) - 1


def dpi_to_ppcm(dpi: float) -> int:
    return round(dpi / 2.54)


@dataclass(frozen=True)
class FingerView:
    minutiae: Minutiae
    finger_position: int = 0  # 0 unknown, 1..10 per ISO/IEC 19794-2 (2 right index, 7 left index)
    view_number: int = 0
    impression_type: int = 0  # 0 live-scan plain
    quality: int = 0
    extended: bytes = b""  # raw extended data (without its 2-byte length)


@dataclass(frozen=True)
class FingerMinutiaeRecord:
    width: int
    height: int
    x_resolution: int = 197  # pixels per centimetre; 197 = 500 dpi
    y_resolution: int = 197
    capture_equipment: int = 0  # compliance nibble and 12-bit equipment id, as stored
    views: list[FingerView] = field(default_factory=list)


def write(record: FingerMinutiaeRecord) -> bytes:
    if not 1 <= len(record.views) <= 255:
        raise ValueError("an ISO/IEC 19794-2 record holds 1 to 255 finger views")
    body = bytearray()
    for view in record.views:
        m = view.minutiae
        if len(m) > 255:
            raise ValueError("a finger view holds at most 255 minutiae")
        if len(m) and (int(m.x.max()) > _MAX_COORD or int(m.y.max()) > _MAX_COORD):
            raise ValueError("minutia coordinates must fit in 14 bits")
        if not (0 <= view.view_number <= 15 and 0 <= view.impression_type <= 15):
            raise ValueError("view number and impression type are 4-bit fields")
        body += VIEW.pack(view.finger_position, (view.view_number << 4) | view.impression_type, view.quality, len(m))
        items = np.zeros((len(m), 4), dtype=">u2")
        type_bits = np.where(m.kind == 1, 1, np.where(m.kind == 2, 2, 0)).astype(np.uint16)
        items[:, 0] = (type_bits << 14) | m.x
        items[:, 1] = m.y
        items[:, 2] = (m.angle.astype(np.uint16) << 8) | m.quality
        packed = items[:, :3].tobytes()
        body += packed
        body += struct.pack(">H", len(view.extended)) + view.extended
    length = HEADER.size + len(body)
    head = HEADER.pack(
        MAGIC,
        VERSION,
        length,
        record.capture_equipment,
        record.width,
        record.height,
        record.x_resolution,
        record.y_resolution,
        len(record.views),
        0,
    )
    return head + bytes(body)


def read(data: bytes) -> FingerMinutiaeRecord:
    """Parse a record; raise TemplateError when it is not a well-formed ISO/IEC 19794-2:2005 record."""
    if len(data) < HEADER.size:
        raise TemplateError("Not an ISO/IEC 19794-2 record: too short.")
    magic, version, length, equipment, width, height, xres, yres, nviews, _reserved = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise TemplateError("Not an ISO/IEC 19794-2 finger minutiae record (bad format identifier).")
    if version != VERSION:
        raise TemplateError(f"Unsupported ISO/IEC 19794-2 version {version!r}; expected 2005 (' 20').")
    if length != len(data):
        raise TemplateError(f"Record length field says {length} bytes but {len(data)} were given.")
    if nviews < 1:
        raise TemplateError("The record holds no finger view.")
    pos, views = HEADER.size, []
    for _ in range(nviews):
        if pos + VIEW.size > len(data):
            raise TemplateError("Truncated finger view header.")
        finger, view_imp, quality, count = VIEW.unpack_from(data, pos)
        pos += VIEW.size
        end = pos + 6 * count
        if end + 2 > len(data):
            raise TemplateError("Truncated minutiae data.")
        items = np.frombuffer(data, dtype=">u2", count=3 * count, offset=pos).reshape(count, 3).astype(np.uint16)
        pos = end
        (ext_len,) = struct.unpack_from(">H", data, pos)
        pos += 2
        if pos + ext_len > len(data):
            raise TemplateError("Truncated extended data block.")
        extended = bytes(data[pos : pos + ext_len])
        pos += ext_len
        type_bits = items[:, 0] >> 14
        kind = np.where(type_bits == 1, 1, np.where(type_bits == 2, 2, 0))
        minutiae = Minutiae.from_arrays(
            items[:, 0] & _MAX_COORD,
            items[:, 1] & _MAX_COORD,
            items[:, 2] >> 8,
            kind,
            items[:, 2] & 0xFF,
            width,
            height,
        )
        views.append(FingerView(minutiae, finger, view_imp >> 4, view_imp & 0x0F, quality, extended))
    if pos != len(data):
        raise TemplateError("Trailing bytes after the last finger view.")
    return FingerMinutiaeRecord(width, height, xres, yres, equipment, views)
