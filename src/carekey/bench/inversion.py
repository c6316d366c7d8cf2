"""An honest pre-image attack on IoM codes with the key known (the worst case: key and gallery leaked).

For a protected code h (one value per hash function) and the key's projections W, the attacker
looks for a feature vector x whose IoM code is h, by gradient ascent on the smoothed constraint
sum_j log softmax(beta * W_j x)[h_j] inside the box of valid feature values — the attack of Ghammam,
Karabina, Lacharite, Nguyen, "A cryptanalysis of two cancelable biometric schemes based on
index-of-max hashing", IEEE TIFS 15, 2020 (their second, optimization-based, variant). The pre-image
is then binarized into an unprotected template and matched against the original unprotected ones.
"""

from __future__ import annotations

import numpy as np

from carekey.biometrics.protection.iom import IoMKey

ITERATIONS = 100
STEP = 0.05
BETA = 4.0


def preimage(key: IoMKey, codes: np.ndarray, iterations: int = ITERATIONS, seed: int = 0) -> np.ndarray:
    """Vectors (n, d) in [-1, 1] whose IoM codes under ``key`` approach ``codes`` (n, m)."""
    w = key.projections
    n, (d, mq) = codes.shape[0], w.shape
    target = np.zeros((n, key.hashes, key.q), np.float32)
    np.put_along_axis(target, codes[:, :, None].astype(np.int64), 1.0, axis=2)
    x = np.random.default_rng(seed).uniform(-0.01, 0.01, (n, d)).astype(np.float32)
    scale = 1.0 / np.sqrt(d)
    for _ in range(iterations):
        z = BETA * scale * (x @ w).reshape(n, key.hashes, key.q)
        z -= z.max(axis=2, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=2, keepdims=True)
        grad = ((target - p).reshape(n, mq) @ w.T) * (BETA * scale)
        x = np.clip(x + STEP * grad / (np.abs(grad).max(axis=1, keepdims=True) + 1e-12), -1.0, 1.0)
    return x


def agreement(key: IoMKey, x: np.ndarray, codes: np.ndarray) -> float:
    """Share of hash values the pre-image reproduces (how well the attack solved its constraints)."""
    return float((key.hash(x) == codes).mean())
