"""Iris templates: the matching form (packed code + mask) and the versioned persistent form.

Persistent layout (little-endian), validated on every load:
``b"CKIR"`` | u16 format version | u16 code bits | code bytes | mask bytes | u32 CRC-32 of all before.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from carekey.biometrics.iris import parameters as P
from carekey.errors import TemplateError

MAGIC = b"CKIR"
FORMAT_VERSION = 1
CODE_BYTES = P.CODE_BITS // 8
WORDS = P.CODE_BITS // 64
_HEADER = struct.Struct("<4sHH")


@dataclass(frozen=True, eq=False)
class IrisTemplate:
    """A 2048-bit iris code and its mask (1 = bit usable), packed little-endian in the encoding layout."""

    code: np.ndarray  # uint8 (CODE_BYTES,)
    mask: np.ndarray  # uint8 (CODE_BYTES,)

    def __post_init__(self) -> None:
        for name in ("code", "mask"):
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.shape != (CODE_BYTES,):
                raise ValueError(f"IrisTemplate.{name} must be uint8 of shape ({CODE_BYTES},)")
            arr.setflags(write=False)

    @classmethod
    def from_bits(cls, bits: np.ndarray, mask: np.ndarray) -> IrisTemplate:
        bits, mask = np.asarray(bits, bool), np.asarray(mask, bool)
        if bits.shape != (P.CODE_BITS,) or mask.shape != (P.CODE_BITS,):
            raise ValueError(f"need {P.CODE_BITS} code and mask bits")
        return cls(np.packbits(bits & mask, bitorder="little"), np.packbits(mask, bitorder="little"))

    def bits(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.unpackbits(self.code, bitorder="little").astype(bool),
            np.unpackbits(self.mask, bitorder="little").astype(bool),
        )

    @property
    def usable_bits(self) -> int:
        return int(np.bitwise_count(self.mask).sum())

    def words(self) -> np.ndarray:
        """Code words then mask words, uint64 (2 * WORDS,): one row of a gallery."""
        return np.concatenate([self.code, self.mask]).view("<u8")

    def to_bytes(self) -> bytes:
        body = _HEADER.pack(MAGIC, FORMAT_VERSION, P.CODE_BITS) + self.code.tobytes() + self.mask.tobytes()
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> IrisTemplate:
        expected = _HEADER.size + 2 * CODE_BYTES + 4
        if not isinstance(data, bytes | bytearray) or len(data) < _HEADER.size:
            raise TemplateError("Iris template is truncated or not bytes.", reason="truncated")
        magic, version, nbits = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise TemplateError("Not an iris template (bad magic).", reason="magic")
        if version != FORMAT_VERSION:
            raise TemplateError(
                f"Iris template format version {version} is not supported (expected {FORMAT_VERSION}); re-enroll.",
                reason="version",
            )
        if nbits != P.CODE_BITS or len(data) != expected:
            raise TemplateError("Iris template has the wrong size.", reason="size")
        (crc,) = struct.unpack_from("<I", data, expected - 4)
        if crc != zlib.crc32(bytes(data[: expected - 4])):
            raise TemplateError("Iris template is corrupt (checksum mismatch).", reason="checksum")
        code = np.frombuffer(bytes(data[_HEADER.size : _HEADER.size + CODE_BYTES]), np.uint8).copy()
        mask = np.frombuffer(bytes(data[_HEADER.size + CODE_BYTES : expected - 4]), np.uint8).copy()
        if np.any(code & ~mask):
            raise TemplateError("Iris template is corrupt (code bits outside its mask).", reason="inconsistent")
        return cls(code, mask)
