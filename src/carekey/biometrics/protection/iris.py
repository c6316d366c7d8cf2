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
from carekey.biometrics.protection._kernels import best_shift_scan
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


_ONE_HOT = np.eye(P.IRIS_Q, dtype=bool)


def one_hot(codes: np.ndarray) -> np.ndarray:
    """IoM codes (n, m) as packed one-hot rows (n, m * Q / 64) uint64: equal values = common bits."""
    codes = np.atleast_2d(codes)
    bits = _ONE_HOT[codes].reshape(codes.shape[0], -1)
    return np.ascontiguousarray(np.packbits(bits, axis=1, bitorder="little").view("<u8"))


def search_one_hot(probe: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Similarities in [0, 1] of a one-hot probe (S rotations) to every one-hot gallery row."""
    return best_shift_scan(probe, gallery) / P.IRIS_HASHES


def search(probe: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Similarities of a probe (S, m) to every row of a protected gallery (N, m): the share of colliding
    hashes at the best rotation."""
    return search_one_hot(one_hot(probe), one_hot(gallery))


def compare(probe: np.ndarray, enrolled: np.ndarray) -> float:
    """Similarity in [0, 1] of a probe (S, m) and one enrolled code (m,)."""
    return float(search(probe, enrolled[None, :])[0])
