"""Kernel of the protected iris 1:N index: a bit-sliced IoM scan (C, ``_search.c``, numpy fallback). The
protected fingerprint index reuses the unprotected fingerprint index's bitset scan."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from carekey.biometrics import native

SOURCE = Path(__file__).with_name("_search.c")
LANES = 8  # gallery rows interleaved per block (one 512-bit vector of 64-bit words)


SIGNATURES = {
    "iom_sliced_scan": (
        None,
        [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p],
    )
}


def library() -> ctypes.CDLL | None:
    return native.load(SOURCE, "iom_search", SIGNATURES)


def planes_of(q: int) -> int:
    """Bits per hash value (bit planes) for values in [0, q)."""
    return max(1, int(q - 1).bit_length())


def bit_planes(codes: np.ndarray, planes: int) -> np.ndarray:
    """IoM codes (n, m) uint8, m a multiple of 64 -> (n, planes, m / 64) uint64: plane p holds bit p of
    every hash value."""
    codes = np.atleast_2d(codes)
    n, m = codes.shape
    if m % 64:
        raise ValueError("the number of hash functions must be a multiple of 64")
    out = np.empty((n, planes, m // 8), np.uint8)
    for p in range(planes):  # one plane at a time: a temporary of n x m bytes, not planes x that
        out[:, p] = np.packbits((codes >> p) & 1, axis=1, bitorder="little")
    return out.view("<u8").reshape(n, planes, m // 64)


def interleave(planes: np.ndarray) -> np.ndarray:
    """(n, planes, words) with n a multiple of LANES -> blocks (n / LANES, planes, words, LANES)."""
    n, p, w = planes.shape
    return np.ascontiguousarray(planes.reshape(n // LANES, LANES, p, w).transpose(0, 2, 3, 1))


def sliced_scan(blocks: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Fewest differing hash values over the probe rotations, per gallery row (blocks * LANES,) int32.
    blocks (nb, planes, words, LANES) and probes (S, planes, words) uint64, C-contiguous."""
    nb, p, w, lanes = blocks.shape
    if (
        blocks.dtype != np.uint64
        or probes.dtype != np.uint64
        or lanes != LANES
        or probes.shape[1:] != (p, w)
        or not blocks.flags.c_contiguous
        or not probes.flags.c_contiguous
    ):
        raise ValueError("sliced_scan needs C-contiguous uint64 blocks and probes of matching shape")
    out = np.empty(nb * LANES, np.int32)
    lib = library()
    if lib is None:
        return _sliced_numpy(blocks, probes)
    lib.iom_sliced_scan(blocks.ctypes.data, nb, p, w, probes.ctypes.data, probes.shape[0], out.ctypes.data)
    return out


def _sliced_numpy(blocks: np.ndarray, probes: np.ndarray, chunk: int = 8192) -> np.ndarray:
    nb, p, w, _ = blocks.shape
    rows = blocks.transpose(0, 3, 1, 2).reshape(nb * LANES, p, w)
    out = np.empty(nb * LANES, np.int32)
    for lo in range(0, len(rows), chunk):
        g = rows[lo : lo + chunk]
        diff = [np.bitwise_count(np.bitwise_or.reduce(g ^ probe[None], axis=1)).sum(axis=1) for probe in probes]
        out[lo : lo + chunk] = np.min(diff, axis=0)
    return out
