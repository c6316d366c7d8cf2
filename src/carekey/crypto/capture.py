"""Biometric captures made offline on a site node, sealed to the central matcher's capture key (issue 19,
docs/sync.md section 2) with HPKE (RFC 9180) from ``cryptography`` (``cryptography.hazmat.primitives.hpke``,
cryptography >= 47): KEM ML-KEM-768 + X25519 (X-Wing, draft-connolly-cfrg-xwing-kem; a capture recorded today must
not open to a quantum computer later), KDF HKDF-SHA256, AEAD AES-256-GCM. The ``info`` binds each capture to its id,
person, modality and position, so a sealed capture cannot be passed off as another.

The node holds only the public key; the private key stays with the central registry (its matcher), in a 0600
file of its own: the 64-byte ML-KEM seed and the 32-byte X25519 private key.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.hpke import (
    AEAD,
    KDF,
    KEM,
    MLKEM768X25519PrivateKey,
    MLKEM768X25519PublicKey,
    Suite,
)

from carekey.errors import KeyCheckFailed

SUITE = Suite(KEM.MLKEM768_X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
_MLKEM_PUBLIC = 1184  # ML-KEM-768 encapsulation key (FIPS 203)
_SEED, _X = 64, 32


def capture_info(capture_id: str, person_id: str, modality: str, position: str) -> bytes:
    return f"carekey-offline-capture-v1|{capture_id}|{person_id}|{modality}|{position}".encode()


def batch_info(node_id: str, seq: int) -> bytes:
    """What a sealed sync batch's personal part is bound to: the node and the batch's place in its chain."""
    return f"carekey-sync-batch-v1|{node_id}|{seq}".encode()


class CaptureKey:
    """The central registry's capture key pair."""

    def __init__(self, mlkem_key: mlkem.MLKEM768PrivateKey, x_key: x25519.X25519PrivateKey) -> None:
        self._mlkem, self._x = mlkem_key, x_key
        self._key = MLKEM768X25519PrivateKey(mlkem_key, x_key)

    @classmethod
    def generate(cls) -> CaptureKey:
        return cls(mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> CaptureKey:
        if not path.exists():
            key = cls.generate()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key._mlkem.private_bytes_raw() + key._x.private_bytes_raw())
            return key
        raw = path.read_bytes()
        if len(raw) != _SEED + _X:
            raise KeyCheckFailed(f"the capture key {path} is corrupt", file=str(path))
        return cls(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:_SEED]),
            x25519.X25519PrivateKey.from_private_bytes(raw[_SEED:]),
        )

    @property
    def public_bytes(self) -> bytes:
        """What nodes receive: the ML-KEM-768 encapsulation key, then the X25519 public key."""
        return self._mlkem.public_key().public_bytes_raw() + self._x.public_key().public_bytes_raw()

    def open(self, sealed: bytes, info: bytes) -> bytes:
        return SUITE.decrypt(sealed, self._key, info)


def seal(public: bytes, image: bytes, info: bytes) -> bytes:
    """Seal ``image`` to the capture public key (``CaptureKey.public_bytes``); a fresh ephemeral key each time."""
    if len(public) != _MLKEM_PUBLIC + _X:
        raise ValueError("not a capture public key (ML-KEM-768 + X25519)")
    key = MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(public[:_MLKEM_PUBLIC]),
        x25519.X25519PublicKey.from_public_bytes(public[_MLKEM_PUBLIC:]),
    )
    return SUITE.encrypt(image, key, info)
