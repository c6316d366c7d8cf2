"""Loads the C scan kernel (``_scan.c``), compiling it on first use (``carekey.biometrics.native``);
numpy fallback without a compiler."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from carekey.biometrics import native
from carekey.biometrics.iris import parameters as P

SOURCE = Path(__file__).with_name("_scan.c")


SIGNATURES = {
    "iris_scan": (
        None,
        [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_double,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ],
    ),
    "iris_scan_coarse": (
        None,
        [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_void_p],
    ),
    "iris_stream": (ctypes.c_uint64, [ctypes.c_void_p, ctypes.c_size_t]),
}


def library() -> ctypes.CDLL | None:
    """The compiled kernel, or None when no C compiler is available (numpy fallback is used)."""
    return native.load(SOURCE, "iris_scan", SIGNATURES)


def scan(gallery: np.ndarray, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best HD_norm and best probe index per gallery row. gallery (N, 64) and probes (S, 64) uint64."""
    _check(gallery, probes)
    n = gallery.shape[0]
    scores = np.empty(n, np.float32)
    shifts = np.empty(n, np.int16)
    lib = library()
    if lib is None:
        return _scan_numpy(gallery, probes)
    lib.iris_scan(
        gallery.ctypes.data,
        n,
        probes.ctypes.data,
        probes.shape[0],
        float(P.DAUGMAN_REFERENCE_BITS),
        P.MIN_BITS_COMPARED,
        scores.ctypes.data,
        shifts.ctypes.data,
    )
    return scores, shifts


COARSE_WORDS = np.array([0, 9, 2, 11, 4, 13, 6, 15, 16, 25, 18, 27, 20, 29, 22, 31])  # see iris_scan_coarse


def scan_coarse(gallery: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Ranking score per gallery row: the exact distance on half of the code words (see _scan.c)."""
    _check(gallery, probes)
    lib = library()
    if lib is None:
        keep = np.isin(np.arange(64), np.concatenate([COARSE_WORDS, 32 + COARSE_WORDS]))
        return _scan_numpy(np.where(keep, gallery, 0), np.ascontiguousarray(np.where(keep, probes, 0)), 0)[0]
    selected = np.ascontiguousarray(np.concatenate([probes[:, COARSE_WORDS], probes[:, 32 + COARSE_WORDS]], axis=1))
    scores = np.empty(gallery.shape[0], np.float32)
    lib.iris_scan_coarse(
        gallery.ctypes.data,
        gallery.shape[0],
        selected.ctypes.data,
        probes.shape[0],
        float(P.DAUGMAN_REFERENCE_BITS),
        scores.ctypes.data,
    )
    return scores


def _check(gallery: np.ndarray, probes: np.ndarray) -> None:
    if (
        gallery.dtype != np.uint64
        or probes.dtype != np.uint64
        or gallery.shape[1:] != (64,)
        or probes.shape[1:] != (64,)
        or not gallery.flags.c_contiguous
        or not probes.flags.c_contiguous
    ):
        raise ValueError("scan needs C-contiguous uint64 arrays of 64 words per row")


def _scan_numpy(
    gallery: np.ndarray, probes: np.ndarray, min_bits: int = P.MIN_BITS_COMPARED, block: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    from carekey.biometrics.iris.matching import normalized_hd

    n = gallery.shape[0]
    best = np.full(n, 2.0, np.float32)
    arg = np.zeros(n, np.int16)
    for lo in range(0, n, block):
        g = gallery[lo : lo + block]
        for s, p in enumerate(probes):
            common = g[:, 32:] & p[32:]
            d = np.bitwise_count((g[:, :32] ^ p[:32]) & common).sum(axis=1)
            m = np.bitwise_count(common).sum(axis=1)
            score = np.asarray(normalized_hd(d, m, min_bits), np.float32)
            better = score < best[lo : lo + block]
            best[lo : lo + block][better] = score[better]
            arg[lo : lo + block][better] = s
    return best, arg


def stream(data: np.ndarray) -> int:
    """Read every word once (XOR-reduce): the memory-bandwidth floor for the same bytes."""
    flat = data.reshape(-1)
    lib = library()
    if lib is None:
        return int(np.bitwise_xor.reduce(flat))
    return int(lib.iris_stream(flat.ctypes.data, flat.size))
