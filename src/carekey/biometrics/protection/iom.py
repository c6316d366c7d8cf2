"""Index-of-Max hashing with Gaussian random projections (GRP-IoM), keyed by a program secret.

After Jin, Hwang, Lai, Kim, Teoh, "Ranking-based locality sensitive hashing-enabled cancelable
biometrics: Index-of-Max hashing", IEEE TIFS 13(2), 2018. For hash function j the key fixes Q Gaussian
directions W_j (Q x d); the hash of a vector x is argmax_k (W_j x)_k. Only the rank of projections is
kept, never their magnitude, which is what makes IoM hard to invert and keeps its security when the
key leaks better than BioHashing (whose sign bits of projections are linear constraints on x).
Two templates are compared by the share of hash functions on which they collide; under another key
the directions are independent, so mated templates collide only at chance (1/Q).

Written by hand: no maintained Python library implements IoM (it is a few lines of numpy).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass

import numpy as np


def derive(secret: bytes, label: str) -> bytes:
    """A sub-key of the program secret for one purpose (HMAC-SHA256, RFC 2104)."""
    return hmac.new(secret, b"carekey/protection/" + label.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class IoMKey:
    """The keyed projections of one modality: m hash functions of q directions in d dimensions."""

    projections: np.ndarray  # float32 (d, m * q): column j*q + k is direction k of hash function j
    hashes: int
    q: int

    def hash(self, x: np.ndarray) -> np.ndarray:
        """IoM codes (n, m) uint8 of the rows of ``x`` (n, d)."""
        x = np.asarray(x, np.float32)
        proj = (x @ self.projections).reshape(x.shape[0], self.hashes, self.q)
        return np.argmax(proj, axis=2).astype(np.uint8)


@functools.lru_cache(maxsize=16)
def iom_key(secret: bytes, label: str, dim: int, hashes: int, q: int) -> IoMKey:
    """The IoM key of ``label`` (e.g. "fingerprint") derived from the program secret; cached."""
    seed = np.frombuffer(derive(secret, f"iom/{label}/{dim}/{hashes}/{q}"), dtype=np.uint32)
    rng = np.random.Generator(np.random.PCG64(seed))
    w = rng.standard_normal((dim, hashes * q), dtype=np.float32)
    w.setflags(write=False)
    return IoMKey(w, hashes, q)


def collisions(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of hash functions on which each row of ``a`` (na, m) equals each row of ``b`` (nb, m)."""
    return (a[:, None, :] == b[None, :, :]).mean(axis=2)
