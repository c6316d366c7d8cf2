"""Fingerprint templates: the matching form (cylinders) and the versioned persistent form.

The persistent form is ``CKFP`` + version (1 byte) + an ISO/IEC 19794-2:2005 record of one finger
view + CRC-32 of everything before it. Cylinders are not stored: they are recomputed from the
minutiae on load, which is deterministic, so a loaded template matches exactly like the original.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from carekey.biometrics.fingerprint import iso19794
from carekey.biometrics.fingerprint.cylinders import cylinders
from carekey.biometrics.fingerprint.minutiae import Minutiae
from carekey.errors import TemplateError

MAGIC = b"CKFP"
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class FingerprintTemplate:
    """What the matcher compares: the valid cylinders of one impression, and their minutiae."""

    minutiae: Minutiae
    xyt: np.ndarray = field(repr=False)  # k x 3 float64, minutiae of the valid cylinders (radians, y down)
    bits: np.ndarray = field(repr=False)  # k x WORDS uint64
    masks: np.ndarray = field(repr=False)  # k x WORDS_PER_SECTION uint64
    nfiq2: int | None = None

    @staticmethod
    def from_minutiae(minutiae: Minutiae, nfiq2: int | None = None) -> FingerprintTemplate:
        xyt, bits, masks = cylinders(minutiae.xyt())
        return FingerprintTemplate(minutiae, xyt, bits, masks, nfiq2)

    @property
    def cylinder_count(self) -> int:
        return int(self.bits.shape[0])

    def to_bytes(self) -> bytes:
        return serialize(self)

    @staticmethod
    def from_bytes(data: bytes) -> FingerprintTemplate:
        return deserialize(data)


def serialize(template: FingerprintTemplate) -> bytes:
    record = iso19794.FingerMinutiaeRecord(
        width=template.minutiae.width,
        height=template.minutiae.height,
        views=[iso19794.FingerView(template.minutiae, quality=min(100, max(0, template.nfiq2 or 0)))],
    )
    body = MAGIC + bytes([FORMAT_VERSION]) + iso19794.write(record)
    return body + struct.pack(">I", zlib.crc32(body))


def deserialize(data: bytes) -> FingerprintTemplate:
    """Load a persistent template; TemplateError when it is corrupt or of another format version."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TemplateError("A fingerprint template must be bytes.")
    data = bytes(data)
    if len(data) < len(MAGIC) + 1 + 4 or data[:4] != MAGIC:
        raise TemplateError("Not a carekey fingerprint template.")
    if data[4] != FORMAT_VERSION:
        raise TemplateError(
            f"Fingerprint template format version {data[4]} is not supported "
            f"(expected {FORMAT_VERSION}); re-enroll the finger."
        )
    body, (crc,) = data[:-4], struct.unpack(">I", data[-4:])
    if zlib.crc32(body) != crc:
        raise TemplateError("The fingerprint template is corrupt (checksum mismatch).")
    record = iso19794.read(body[5:])
    if len(record.views) != 1:
        raise TemplateError("A fingerprint template holds exactly one finger view.")
    view = record.views[0]
    return FingerprintTemplate.from_minutiae(view.minutiae, nfiq2=view.quality)
