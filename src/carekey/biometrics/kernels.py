"""Compiled primitives shared by the engines (fingerprint, iris) and the protected indexes (``protection/``).

The public home of the small numba kernels more than one engine uses, so that no package reaches into another's
private helpers. Compiled C kernels are loaded by ``carekey.biometrics.native``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic


def _ctpop(typingctx, x):  # noqa: ARG001 - numba intrinsic signature
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


#: Set bits of a uint64 (LLVM ``ctpop``: one POPCNT instruction where the CPU has it). numba code only. Typed as
#: numba code calls it (one argument; numba supplies ``typingctx``), which numba's ``@intrinsic`` does not say.
popcount = cast(Callable[[int], int], intrinsic(_ctpop))


@numba.njit(cache=True, nogil=True)
def bitset_scan(gallery: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Common set bits of the probe bitset (words,) with every gallery bitset (n, words)."""
    n, w = gallery.shape
    out = np.empty(n, dtype=np.int32)
    for i in range(n):
        acc = 0
        for k in range(w):
            acc += popcount(gallery[i, k] & probe[k])
        out[i] = acc
    return out
