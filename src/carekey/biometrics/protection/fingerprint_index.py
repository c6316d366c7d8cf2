"""1:N search over protected fingers: an exact band pre-filter, then the full protected comparison of the best
few per cent.

IoM values are themselves locality-sensitive hashes of the cylinders, so banding them gives an LSH index (the
banding technique of Indyk and Motwani, STOC 1998; for MCC cylinders, Cappelli, Ferrara, Maltoni, "Fingerprint
indexing based on Minutia Cylinder-Code", IEEE TPAMI 33(5), 2011). Band b of a code row is the pair of IoM values
of hash functions 2b and 2b + 1, one of 256; mated fingers share cylinders whose bands collide far more often than
chance, so the number of distinct (band, value) pairs a gallery finger shares with the probe ranks the gallery, and
the shortlist is scored with ``fingerprint.compare``'s comparison.

Memory layout of one finger (``BYTES_PER_FINGER``, 14 KiB at the shipped parameters):
- its codes, two 4-bit values a byte (``pack``, value 2k in the low nibble of byte k): FP_ROWS x FP_HASHES / 2
  bytes, 12 KiB, the information-theoretic size of the codes (each value is one of FP_Q = 16). The full
  comparison counts colliding nibbles of the packed rows (``nibble_collision_counts``), exactly the counts of
  the unpacked codes, so the scores are those of ``fingerprint.compare`` bit for bit;
- its set of (band, value) pairs over the first FP_INDEX_BANDS bands, as an exact bitset of FP_INDEX_BANDS x 256
  bits (2 KiB at 64 bands): a popcount of AND with the probe's is the size of the intersection of the two sets.

Until 2026-11 the index kept the codes one byte a value and a 65,536-bit keyed Bloom bitset of 96 bands' pairs
(32 KiB a finger). Packing loses nothing; the exact bitset of 64 bands ranks mates better than the Bloom one of 96
(no two pairs share a bit) in a quarter of its size. A pre-filter with no per-finger structure at all (12 KiB a
finger: the band values are byte b of each packed row, looked up in the probe's set) ranks as well as the 96-band
bitset but costs a table look-up per (row, band): 20 to 60 times the bitset scan, measured, which the search
cannot afford (``bench/results/service/README.md``). The bitset reveals nothing the codes do not (it is a
function of them alone). The index lives in memory only; the persistent template (``templates.py``) is unchanged.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from carekey.biometrics.kernels import bitset_scan
from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection._kernels import band_bitsets, pack_nibbles, shortlist_collision_counts
from carekey.biometrics.protection.gallery import Candidate, Slots, grown

if P.FP_Q > 16 or P.FP_HASHES % 16 or P.FP_INDEX_BAND != 2 or P.FP_INDEX_BANDS > P.FP_HASHES // 2:
    raise ImportError("fingerprint_index packs two IoM values below 16 a byte and reads a band as one byte")

ROW_BYTES = P.FP_HASHES // 2
PREFILTER_WORDS = P.FP_INDEX_BANDS * 256 // 64
PREFILTER_BYTES = PREFILTER_WORDS * 8  # the exact (band, value) bitset
BYTES_PER_FINGER = P.FP_ROWS * ROW_BYTES + PREFILTER_BYTES


def shortlist_of(n: int) -> int:
    """Fingers one process scores in full out of ``n``: FP_INDEX_SHORTLIST_MIN, or FP_INDEX_SHORTLIST_SHARE of
    them if more (all of them if fewer)."""
    return min(n, max(P.FP_INDEX_SHORTLIST_MIN, round(P.FP_INDEX_SHORTLIST_SHARE * n)))


def pack(codes: np.ndarray) -> np.ndarray:
    """IoM codes (..., FP_HASHES) of values below 16 -> (..., FP_HASHES / 2) uint8, value 2k in the low nibble
    of byte k and value 2k + 1 in its high nibble."""
    c = np.ascontiguousarray(codes, np.uint8)
    flat = c.reshape(-1, 1, c.shape[-1])
    out = np.empty((flat.shape[0], 1, c.shape[-1] // 2), np.uint8)
    pack_nibbles(flat, out)
    return out.reshape(*c.shape[:-1], c.shape[-1] // 2)


def unpack(packed: np.ndarray) -> np.ndarray:
    """The inverse of ``pack``."""
    out = np.empty((*packed.shape[:-1], 2 * packed.shape[-1]), np.uint8)
    out[..., 0::2] = packed & 0x0F
    out[..., 1::2] = packed >> 4
    return out


def band_bits(packed: np.ndarray) -> np.ndarray:
    """The exact bitsets (k, PREFILTER_WORDS) uint64 of the (band, value) pairs of packed fingers
    (k, FP_ROWS, ROW_BYTES): bit b * 256 + v is set when some row has value v in band b."""
    out = np.empty((packed.shape[0], PREFILTER_WORDS), np.uint64)
    band_bitsets(np.ascontiguousarray(packed), P.FP_INDEX_BANDS, out)
    return out


def _words(packed: np.ndarray) -> np.ndarray:
    """Packed rows (..., ROW_BYTES) uint8 viewed as little-endian uint64 words, as the kernels read them."""
    return np.ascontiguousarray(packed).view("<u8")


class ProtectedFingerprintIndex(Slots):
    """Protected fingers (FP_ROWS, FP_HASHES) uint8 under opaque keys, all made under one secret.

    ``secret`` is not used by the index any more (the pre-filter is a function of the codes alone); it stays in
    the signature so callers (the shards, the Ray actors, the benchmarks) need not change."""

    def __init__(self, secret: bytes | None = None, capacity: int = 1024) -> None:
        super().__init__()
        del secret
        self._packed = np.zeros((max(capacity, 1), P.FP_ROWS, ROW_BYTES), np.uint8)
        self._bits = np.zeros((max(capacity, 1), PREFILTER_WORDS), np.uint64)

    @property
    def nbytes(self) -> int:
        """Memory of the indexed fingers: their packed codes and pre-filter bitsets."""
        return len(self) * BYTES_PER_FINGER

    def codes(self, slot: int) -> np.ndarray:
        """The (FP_ROWS, FP_HASHES) codes held in ``slot``, unpacked."""
        return unpack(self._packed[slot])

    def add(self, key: Hashable, codes: np.ndarray) -> None:
        self.add_many([key], [codes])

    def add_many(self, keys: Sequence[Hashable], codes: Sequence[np.ndarray] | np.ndarray) -> None:
        """Index ``codes`` (k, FP_ROWS, FP_HASHES) uint8, or k such arrays, under ``keys``. An array may be a strided
        view (the stored page ``templates.load_many`` validated): it is packed straight into the index, its range
        checked in the same pass."""
        shape = (P.FP_ROWS, P.FP_HASHES)
        if len(codes) != len(keys):
            raise ValueError("one protected finger per key")
        if not len(keys):
            return
        batch = codes if isinstance(codes, np.ndarray) else np.stack([np.asarray(c) for c in codes])
        bad = ValueError(f"a protected finger is uint8 values below {P.FP_Q} of shape {shape}")
        if batch.dtype != np.uint8 or batch.shape[1:] != shape:
            raise bad
        start, end = len(self), len(self) + len(keys)  # the slots _new_keys gives them; zero until then
        self._packed = grown(self._packed, end)
        self._bits = grown(self._bits, end)
        if pack_nibbles(batch, self._packed[start:end]) >= P.FP_Q:
            self._packed[start:end] = 0
            raise bad
        try:
            self._new_keys(keys)
        except Exception:
            self._packed[start:end] = 0
            raise
        band_bitsets(self._packed[start:end], P.FP_INDEX_BANDS, self._bits[start:end])

    def remove(self, key: Hashable) -> None:
        i, last = self._drop_key(key)
        if i != last:
            self._packed[i] = self._packed[last]
            self._bits[i] = self._bits[last]
        self._packed[last] = 0
        self._bits[last] = 0

    def shortlist_size(self, n: int) -> int:
        return shortlist_of(n)

    def prefilter_votes(self, probe: np.ndarray, slots: np.ndarray | None = None) -> np.ndarray:
        """Distinct (band, value) pairs each finger (of ``slots``, or all) shares with ``probe``."""
        mine = band_bits(pack(probe)[None])[0]
        if slots is None:
            return bitset_scan(self._bits[: len(self)], mine)
        return bitset_scan(self._bits[np.asarray(slots, np.int64)], mine)

    def scores(self, probe: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """``fingerprint.compare(probe, finger)`` of the fingers in ``slots``, from the packed codes."""
        slots = np.asarray(slots, np.int64)
        counts = shortlist_collision_counts(_words(pack(probe)), self._packed.view("<u8"), slots)
        return pfp.score_counts_many(counts, P.FP_HASHES)

    def search(
        self, probe: np.ndarray, top: int = 5, shortlist: int | None = None, among: np.ndarray | None = None
    ) -> list[Candidate]:
        """Best ``top`` fingers by ``fingerprint.compare``, over the slots ``among`` if given; the
        pre-filter keeps ``shortlist`` of them (default: FP_INDEX_SHORTLIST_MIN or _SHARE of the gallery;
        ``shortlist >= len(index)`` is the exhaustive search)."""
        n = len(self)
        slots = np.arange(n) if among is None else np.asarray(among, np.int64)
        if n == 0 or slots.size == 0:
            return []
        keep = min(slots.size, self.shortlist_size(slots.size) if shortlist is None else shortlist)
        if keep < slots.size:
            votes = self.prefilter_votes(probe, None if among is None else slots)
            slots = np.sort(slots[np.argpartition(-votes, keep - 1)[:keep]])
        return self._ranked(slots, self.scores(probe, slots), top)
