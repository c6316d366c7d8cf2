"""Stage 6: masked fractional Hamming distance with rotation compensation, and two-eye fusion.

HD = |(A xor B) & mA & mB| / |mA & mB|, minimized over circular shifts of B by whole code columns
(eye rotation). Daugman's normalization pulls scores computed on few bits towards 0.5:
HD_norm = 0.5 - (0.5 - HD) * sqrt(n / 911) (J. Daugman, "Probing the uniqueness and randomness of
IrisCodes", Proc. IEEE 94(11), 2006).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np

from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris.templates import CODE_BYTES, IrisTemplate

SHIFT_BYTES = P.CODE_ROWS * P.BITS_PER_SAMPLE // 8  # one code column, in bytes
assert P.CODE_ROWS * P.BITS_PER_SAMPLE % 8 == 0, "a code column must be whole bytes"


@dataclass(frozen=True)
class Comparison:
    """The best alignment of two codes."""

    differing: int  # disagreeing bits among those compared
    compared: int  # bits unmasked in both
    shift: int  # code columns B was rotated by

    @property
    def hd(self) -> float:
        return self.differing / self.compared if self.compared else 0.5

    @property
    def hd_norm(self) -> float:
        return normalized_hd(self.differing, self.compared)


@overload
def normalized_hd(differing: int, compared: int, min_bits: int = ...) -> float: ...
@overload
def normalized_hd(
    differing: int | np.ndarray, compared: int | np.ndarray, min_bits: int = ...
) -> float | np.ndarray: ...
def normalized_hd(
    differing: int | np.ndarray, compared: int | np.ndarray, min_bits: int = P.MIN_BITS_COMPARED
) -> float | np.ndarray:
    """Daugman's HD_norm; 0.5 (chance) when nothing, or too little, was compared."""
    differing, compared = np.asarray(differing, np.float64), np.asarray(compared, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        hd = np.where(compared > 0, differing / np.maximum(compared, 1), 0.5)
        out = 0.5 - (0.5 - hd) * np.sqrt(compared / P.DAUGMAN_REFERENCE_BITS)
    out = np.where(compared >= min_bits, out, np.maximum(out, 0.5))
    return float(out) if out.ndim == 0 else out


def shifted(t: IrisTemplate, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and masks of ``t`` rotated by each shift (code columns): two uint64 arrays (S, WORDS)."""
    idx = (np.arange(CODE_BYTES)[None, :] - SHIFT_BYTES * np.asarray(shifts)[:, None]) % CODE_BYTES
    return t.code[idx].view("<u8"), t.mask[idx].view("<u8")


def shift_range(max_shift: int = P.MAX_SHIFT) -> np.ndarray:
    return np.arange(-max_shift, max_shift + 1)


def compare_detail(a: IrisTemplate, b: IrisTemplate, max_shift: int = P.MAX_SHIFT) -> Comparison:
    """Best (lowest HD_norm) alignment of ``b`` against ``a`` over shifts in [-max_shift, max_shift]."""
    shifts = shift_range(max_shift)
    codes, masks = shifted(b, shifts)
    common = masks & a.mask.view("<u8")
    diff = np.bitwise_count((codes ^ a.code.view("<u8")) & common).sum(axis=1)
    n = np.bitwise_count(common).sum(axis=1)
    scores = normalized_hd(diff, n)
    k = int(np.argmin(scores))
    return Comparison(int(diff[k]), int(n[k]), int(shifts[k]))


def compare(a: IrisTemplate, b: IrisTemplate, max_shift: int = P.MAX_SHIFT) -> float:
    """Normalized Hamming distance in [0, 1] (lower = more alike), rotation-compensated."""
    return compare_detail(a, b, max_shift).hd_norm


def fuse_eyes(left: Comparison | None, right: Comparison | None) -> float:
    """Two-eye score: pool the bits of both eyes (each at its own best shift) and normalize once.

    Pooling makes the decision rest on all the evidence — two independent eyes give roughly twice
    the compared bits, so the same HD is a stronger match (Daugman's normalization rewards n). A
    missing eye (not captured, or refused) leaves the other eye's score.
    """
    parts = [c for c in (left, right) if c is not None]
    if not parts:
        raise ValueError("need at least one eye to fuse")
    return float(normalized_hd(sum(c.differing for c in parts), sum(c.compared for c in parts)))
