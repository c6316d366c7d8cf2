"""Per-person envelope encryption (AES-256-GCM from ``cryptography``) and crypto-shredding.

See the package docstring for the key hierarchy. Nonces are 96-bit random (at most a few thousand
encryptions per data key, far below the 2^32 random-nonce limit for GCM).
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from carekey.crypto.keys import KEY_BYTES, ProgramKeys, SecretStore
from carekey.errors import IntegrityError, NotFound

NONCE = 12


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE], blob[NONCE:], aad)
    except (InvalidTag, ValueError):
        raise IntegrityError("ciphertext failed authentication (wrong key, wrong row, or tampered)") from None


@dataclass(frozen=True)
class SealedKey:
    key_ref: str  # names the shred secret in the SecretStore
    wrapped: bytes  # the data key, sealed under the wrapping key


class PersonCrypto:
    """Creates, unwraps and shreds per-person data keys; seals and opens records bound to their rows."""

    def __init__(self, keys: ProgramKeys, store: SecretStore) -> None:
        self._keys = keys
        self._store = store

    def _wrapping_key(self, key_ref: str, secret: bytes) -> bytes:
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=secret, info=b"carekey-wrap-v1|" + key_ref.encode()
        )
        return hkdf.derive(self._keys.kek)

    def new_data_key(self, person_id: str) -> tuple[bytes, SealedKey]:
        key_ref = f"pk-{secrets.token_hex(16)}"
        secret = self._store.create(key_ref)
        data_key = AESGCM.generate_key(bit_length=256)
        wrapped = _seal(self._wrapping_key(key_ref, secret), data_key, b"wrap|" + person_id.encode())
        return data_key, SealedKey(key_ref, wrapped)

    def data_key(self, person_id: str, sealed: SealedKey) -> bytes:
        secret = self._store.get(sealed.key_ref)
        if secret is None:
            raise NotFound("this person's data key has been destroyed (erased)", person_id=person_id)
        return _open(self._wrapping_key(sealed.key_ref, secret), sealed.wrapped, b"wrap|" + person_id.encode())

    def new_image_key_ref(self) -> str:
        """A fresh per-person image key (a key-store secret apart from the data key): kept enrollment images are
        sealed under it, and revoking a biometric consent destroys it without touching the person's record."""
        key_ref = f"ik-{secrets.token_hex(16)}"
        self._store.create(key_ref)
        return key_ref

    def image_key(self, person_id: str, key_ref: str) -> bytes:
        secret = self._store.get(key_ref)
        if secret is None:
            raise NotFound("this person's image key has been destroyed", person_id=person_id)
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=secret,
            info=b"carekey-image-v1|" + key_ref.encode() + b"|" + person_id.encode(),
        )
        return hkdf.derive(self._keys.kek)

    def log_pseudonym(self, person_id: str, key_ref: str) -> str:
        """The keyed pseudonym that replaces ``person_id`` in the access log when the person is erased:
        HMAC-SHA256 under a key derived from the person's shred secret, which the erasure then destroys, so the
        pseudonym can no longer be linked to the id (not even by whoever holds the program keys). 10 base32
        characters after ``X-`` (50 bits), the width of a person id column."""
        secret = self._store.get(key_ref) or secrets.token_bytes(KEY_BYTES)  # already shredded: unlinkable anyway
        mac = hmac.new(secret, b"carekey-log-pseudonym-v1|" + person_id.encode(), "sha256").digest()
        return "X-" + base64.b32encode(mac[:10]).decode()[:10]

    def shred(self, key_ref: str) -> None:
        """Destroy the shred secret: every copy of the wrapped key becomes useless."""
        self._store.destroy(key_ref)

    @staticmethod
    def seal_json(data_key: bytes, obj: object, aad: str) -> bytes:
        return _seal(data_key, json.dumps(obj, separators=(",", ":")).encode(), aad.encode())

    @staticmethod
    def open_json(data_key: bytes, blob: bytes, aad: str) -> object:
        return json.loads(_open(data_key, blob, aad.encode()))

    @staticmethod
    def seal_bytes(data_key: bytes, data: bytes, aad: str) -> bytes:
        """Binary payloads (kept enrollment images) under the data key, bound to their row by ``aad``."""
        return _seal(data_key, data, aad.encode())

    @staticmethod
    def open_bytes(data_key: bytes, blob: bytes, aad: str) -> bytes:
        return _open(data_key, blob, aad.encode())


def person_aad(person_id: str) -> str:
    return f"people|{person_id}|v1"


def exam_aad(exam_id: str, person_id: str) -> str:
    return f"exams|{exam_id}|{person_id}|v1"


def image_aad(image_id: str, person_id: str, modality: str, position: str) -> str:
    return f"biometric_images|{image_id}|{person_id}|{modality}|{position}|v1"
