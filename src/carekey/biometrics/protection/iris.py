"""Protected iris codes: IoM hashes of the masked code; rotation compensated on the probe side.

The enrolled template is the IoM code of the iris code as captured (usable bits +1 / -1, masked bits
0). A probe is hashed at every code shift in [-MAX_SHIFT, MAX_SHIFT] (eye rotation) and the best
shift wins, so the gallery never holds more than one protected code per eye, and no iris bit.
"""

from __future__ import annotations

import numpy as np

from carekey.biometrics.iris import matching
from carekey.biometrics.iris import parameters as IP
from carekey.biometrics.iris.templates import IrisTemplate
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.iom import IoMKey, iom_key

DIM = IP.CODE_BITS


def key_for(secret: bytes) -> IoMKey:
    return iom_key(secret, "iris", DIM, P.IRIS_HASHES, P.IRIS_Q)


def code_vectors(codes: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Packed codes and masks (n, words) uint64 -> (n, DIM) vectors of +1 / -1 / 0 (masked)."""
    bits = np.unpackbits(codes.view(np.uint8), axis=1, bitorder="little").astype(np.float32)
    usable = np.unpackbits(masks.view(np.uint8), axis=1, bitorder="little").astype(np.float32)
    return (2.0 * bits - 1.0) * usable


def protect(template: IrisTemplate, secret: bytes) -> np.ndarray:
    """The enrolled protected code: (IRIS_HASHES,) uint8."""
    codes, masks = template.code[None, :].view("<u8"), template.mask[None, :].view("<u8")
    return key_for(secret).hash(code_vectors(codes, masks))[0]


def protect_probe(template: IrisTemplate, secret: bytes, max_shift: int = IP.MAX_SHIFT) -> np.ndarray:
    """The probe hashed at every rotation: (2 * max_shift + 1, IRIS_HASHES) uint8."""
    codes, masks = matching.shifted(template, matching.shift_range(max_shift))
    return key_for(secret).hash(code_vectors(codes, masks))


def compare(probe: np.ndarray, enrolled: np.ndarray) -> float:
    """Similarity in [0, 1]: the best share of colliding hashes over the probe's rotations."""
    return float((probe == enrolled[None, :]).mean(axis=1).max())


def search(probe: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Similarities of a probe (S, m) to every row of a protected gallery (N, m)."""
    best = np.zeros(len(gallery), np.float64)
    for row in probe:
        best = np.maximum(best, (gallery == row[None, :]).mean(axis=1))
    return best
