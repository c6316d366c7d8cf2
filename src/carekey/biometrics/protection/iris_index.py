"""1:N search over protected iris codes in two stages, built only from the protected codes.

Stage 1 counts, for every row, the collisions of the first IRIS_INDEX_HASHES hash functions with the
probe at every rotation. The codes are stored bit-sliced (``_search_kernels``): a hash value of q = 8
takes 3 bits instead of the 8 of the one-hot form, and 8 rows are compared per 512-bit vector. The
hash functions are independent, so a subset ranks rows like all of them, with more noise; stage 2 scores
the IRIS_INDEX_SHORTLIST best rows over all hashes with the same bit-sliced scan (equal to ``iris.search``)
and ranks them. The same
scheme as the unprotected iris gallery (``biometrics.iris.index``); ``exhaustive=True`` scores every
row in full, against which the benchmark measures top-1 agreement.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection._search_kernels import LANES, bit_planes, interleave, planes_of, sliced_scan
from carekey.biometrics.protection.gallery import Candidate, Slots, grown

CHUNK = 16384  # rows scored in full per kernel call: bounds the interleaved copy of the gathered rows


def stage1_hashes() -> int:
    """Hash functions compared in stage 1: IRIS_INDEX_HASHES, at most all of them, a multiple of 64."""
    return max(64, min(P.IRIS_INDEX_HASHES, P.IRIS_HASHES) // 64 * 64)


class ProtectedIrisIndex(Slots):
    """Protected iris codes (IRIS_HASHES,) uint8 under opaque keys; probes are (rotations, IRIS_HASHES).

    Each row is kept once as bit planes of all its hash values (3 bits a value at q = 8: 768 bytes at m =
    2048), row after row, and its first stage-1 hashes again interleaved 8 rows a vector for the stage-1 scan.
    Stage 2 gathers the shortlisted rows' planes and runs the same bit-sliced scan over all hashes: two hash
    values collide when no plane differs, so a row's similarity is (m - fewest differing values) / m, which is
    exactly ``iris.search`` (the share of colliding hashes at the best rotation) without building one-hot codes.
    """

    def __init__(self, capacity: int = 1024) -> None:
        super().__init__()
        self._planes = planes_of(P.IRIS_Q)
        self._h1 = stage1_hashes()
        self._rows = np.zeros((max(capacity, 1), self._planes, P.IRIS_HASHES // 64), np.uint64)
        self._blocks = np.zeros((-(-max(capacity, 1) // LANES), self._planes, self._h1 // 64, LANES), np.uint64)

    @property
    def nbytes(self) -> int:
        """Memory of the indexed rows: their bit planes (stage 2) and the interleaved stage-1 planes."""
        return len(self) * (self._planes * P.IRIS_HASHES // 8 + self._planes * self._h1 // 8)

    def add(self, keys: Sequence[Hashable], codes: np.ndarray) -> None:
        """Bulk insert of protected codes (len(keys), IRIS_HASHES) uint8."""
        codes = np.asarray(codes)
        shape = (len(keys), P.IRIS_HASHES)
        if codes.dtype != np.uint8 or codes.shape != shape or (codes.size and codes.max() >= P.IRIS_Q):
            raise ValueError(f"codes must be uint8 values below {P.IRIS_Q} of shape (len(keys), {P.IRIS_HASHES})")
        start, end = self._new_keys(keys)
        self._rows = grown(self._rows, end)
        self._blocks = grown(self._blocks, -(-end // LANES))
        self._rows[start:end] = bit_planes(codes, self._planes)
        self._write(np.arange(start, end))

    def _write(self, slots: np.ndarray) -> None:
        self._blocks[slots // LANES, :, :, slots % LANES] = self._rows[slots, :, : self._h1 // 64]

    def remove(self, key: Hashable) -> None:
        i, last = self._drop_key(key)
        if i != last:
            self._rows[i] = self._rows[last]
            self._write(np.array([i]))
        self._rows[last] = 0
        self._blocks[last // LANES, :, :, last % LANES] = 0

    def _full_scores(self, probe_planes: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """Similarities of every row in ``slots`` (all hashes, best rotation), CHUNK rows per kernel call."""
        out = []
        for lo in range(0, slots.size, CHUNK):
            part = slots[lo : lo + CHUNK]
            rows = self._rows[part]
            pad = -len(part) % LANES
            if pad:
                rows = np.concatenate([rows, np.zeros((pad, *rows.shape[1:]), np.uint64)])
            differ = sliced_scan(interleave(rows), probe_planes)[: len(part)]
            out.append((P.IRIS_HASHES - differ) / P.IRIS_HASHES)
        return np.concatenate(out)

    def search(
        self,
        probe: np.ndarray,
        top: int = 5,
        exhaustive: bool | None = None,
        among: np.ndarray | None = None,
        shortlist: int = P.IRIS_INDEX_SHORTLIST,
    ) -> list[Candidate]:
        """Best ``top`` rows (highest ``iris.search`` similarity first), over the slots ``among`` if given.
        Stage 1 keeps ``shortlist`` rows; galleries of at most 4 shortlists are scored in full by default."""
        n = len(self)
        probe = np.atleast_2d(np.asarray(probe, np.uint8))
        if probe.shape[1:] != (P.IRIS_HASHES,):
            raise ValueError(f"an iris probe is (rotations, {P.IRIS_HASHES}) IoM values")
        slots = np.arange(n) if among is None else np.asarray(among, np.int64)
        if n == 0 or slots.size == 0:
            return []
        if exhaustive is None:
            exhaustive = slots.size <= 4 * shortlist
        if not exhaustive and shortlist < slots.size:
            rotations = np.ascontiguousarray(probe[:: P.IRIS_INDEX_SHIFT_STEP, : self._h1])
            differ = sliced_scan(self._blocks[: -(-n // LANES)], bit_planes(rotations, self._planes))[:n]
            if among is not None:
                differ = differ[slots]
            keep = np.argpartition(differ, shortlist - 1)[:shortlist]
            slots = np.sort(slots[keep])
        full = np.ascontiguousarray(bit_planes(np.ascontiguousarray(probe), self._planes))
        return self._ranked(slots, self._full_scores(full, slots), top)
