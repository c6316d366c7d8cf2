"""The versioned persistent form of protected templates, validated on every load.

Layout (big-endian): ``b"CKPT"`` | u8 format version | u8 modality (1 fingerprint, 2 iris) |
u32 key version | KEY_ID_BYTES key id | u16 rows | u16 hashes | rows * hashes IoM values (u8) |
u32 CRC-32 of everything before. The key id is HMAC(secret, "key-id"): a template made under another
secret (another program, or a rotated key) is refused on load instead of scoring as garbage. Nothing
of the unprotected template (minutiae, iris bits) is in it.
"""

from __future__ import annotations

import functools
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.iom import derive
from carekey.errors import TemplateError

MAGIC = b"CKPT"
FORMAT_VERSION = 2  # 2: 512 hashes per fingerprint cylinder, 2048 per iris (1: 256 and 1024)
MODALITY_CODES = {"fingerprint": 1, "iris": 2}
SHAPES = {"fingerprint": (P.FP_HASHES, P.FP_Q), "iris": (P.IRIS_HASHES, P.IRIS_Q)}
_HEADER = struct.Struct(f">4sBBI{P.KEY_ID_BYTES}sHH")


@functools.lru_cache(maxsize=64)  # one HMAC per secret, not per loaded template (start-up loads millions)
def key_id(secret: bytes) -> bytes:
    return derive(secret, "key-id")[: P.KEY_ID_BYTES]


@dataclass(frozen=True, eq=False)
class ProtectedTemplate:
    """IoM codes of one finger (one row per cylinder) or one eye (one row)."""

    modality: str
    key_version: int
    codes: np.ndarray  # (rows, hashes) uint8


def dump(t: ProtectedTemplate, secret: bytes) -> bytes:
    rows, hashes = t.codes.shape
    body = (
        _HEADER.pack(MAGIC, FORMAT_VERSION, MODALITY_CODES[t.modality], t.key_version, key_id(secret), rows, hashes)
        + np.ascontiguousarray(t.codes, np.uint8).tobytes()
    )
    return body + struct.pack(">I", zlib.crc32(body))


def load(data: bytes, modality: str, key_version: int, secret: bytes) -> ProtectedTemplate:
    """Parse and validate; TemplateError (with a reason) when corrupt, of another modality, key version
    or program secret."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) < _HEADER.size + 4:
        raise TemplateError("Protected template is truncated or not bytes.", reason="truncated")
    data = data if isinstance(data, bytes) else bytes(data)
    magic, version, mod, kv, kid, rows, hashes = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise TemplateError(
            "Not a carekey protected template (bad magic); unprotected templates are refused.", reason="magic"
        )
    if version != FORMAT_VERSION:
        raise TemplateError(
            f"Protected template format {version} is not supported (expected {FORMAT_VERSION}); re-enroll the person.",
            reason="format",
        )
    if zlib.crc32(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
        raise TemplateError("Protected template is corrupt (checksum mismatch).", reason="checksum")
    if mod != MODALITY_CODES.get(modality):
        raise TemplateError(f"Protected template is not a {modality} template.", reason="modality")
    if kv != key_version:
        raise TemplateError(
            f"Protected template was made under biometric key version {kv}, not the current "
            f"{key_version}; it is retired and the person must be re-enrolled.",
            reason="key_version",
        )
    if kid != key_id(secret):
        raise TemplateError("Protected template was made under another program's biometric key.", reason="key")
    expected_hashes, q = SHAPES[modality]
    if hashes != expected_hashes or len(data) != _HEADER.size + rows * hashes + 4 or rows == 0:
        raise TemplateError("Protected template has the wrong size.", reason="size")
    # a read-only view of the immutable bytes (no copy: the gallery's start-up loads every stored template)
    codes = np.frombuffer(data, np.uint8, rows * hashes, _HEADER.size).reshape(rows, hashes)
    if codes.max() >= q:
        raise TemplateError("Protected template holds out-of-range hash values.", reason="range")
    return ProtectedTemplate(modality, kv, codes)


def load_many(
    data: list[bytes], modality: str, key_version: int, secret: bytes, rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """The checks of ``load`` on a batch of stored templates of ``rows`` rows, without Python work per template
    but a CRC-32: (codes (k, rows, hashes) of the valid ones, their indices in ``data``). A template failing any
    check is left out; the caller loads it alone with ``load`` to learn (and log) why. The gallery's start-up
    loads every stored template through here."""
    hashes, q = SHAPES[modality]
    size = _HEADER.size + rows * hashes + 4
    sized = np.fromiter((i for i, d in enumerate(data) if len(d) == size), np.int64)
    if not sized.size:
        return np.zeros((0, rows, hashes), np.uint8), sized
    # one copy of the page into one array (row by row into a buffer allocated once: a b"".join and its fresh
    # allocation cost 4x more, page faults) and the CRC-32 of each stored row on the driver's bytes
    batch = np.empty((sized.size, size), np.uint8)
    flat = batch.data.cast("B")
    crcs = np.empty(sized.size, np.uint32)
    for j, i in enumerate(sized.tolist()):
        flat[j * size : (j + 1) * size] = data[i]
        crcs[j] = zlib.crc32(memoryview(data[i])[:-4])
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, MODALITY_CODES[modality], key_version, key_id(secret), rows, hashes)
    codes = batch[:, _HEADER.size : size - 4].reshape(sized.size, rows, hashes)
    good = (
        (batch[:, : _HEADER.size] == np.frombuffer(header, np.uint8)).all(axis=1)
        & (crcs == batch[:, size - 4 :].copy().view(">u4")[:, 0])
        & (codes.max(axis=(1, 2)) < q)
    )
    if good.all():  # the usual page: the codes are a view of the one copy
        return codes, sized
    return codes[good], sized[good]
