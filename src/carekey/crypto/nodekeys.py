"""A site node's signing key, sealed at rest under a passphrase (issue 19, docs/sync.md section 1).

Sealing: argon2id (RFC 9106; ``argon2-cffi``'s raw KDF) derives a 256-bit key from the passphrase and a random
16-byte salt, with the cost parameters stored beside them so they can be raised later; the key file's content is
sealed with AES-256-GCM (``cryptography``) under a random 96-bit nonce, the header (format, KDF parameters) as
associated data, so nothing of it can be changed unnoticed. A wrong passphrase and a corrupt file fail alike.

Requests: every sync request is signed with the node's Ed25519 key over ``carekey.domain.sync.signing_string``.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from carekey.errors import InvalidInput, KeyCheckFailed

FORMAT = "carekey-node-key-v1"
MIN_PASSPHRASE = 8


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 1


def _kek(passphrase: str, salt: bytes, p: Argon2Params) -> bytes:
    return hash_secret_raw(
        passphrase.encode(), salt, p.time_cost, p.memory_kib, p.parallelism, 32, Type.ID
    )  # argon2id, RFC 9106


class NodeKey:
    """The node's Ed25519 signing key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._key = private

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> bytes:
        return self._key.public_key().public_bytes_raw()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def seal(self, path: Path, passphrase: str, params: Argon2Params) -> None:
        """Write the key to ``path`` (0600), sealed under ``passphrase``."""
        if len(passphrase) < MIN_PASSPHRASE:
            raise InvalidInput(f"the node passphrase has at least {MIN_PASSPHRASE} characters", field="passphrase")
        salt, nonce = os.urandom(16), os.urandom(12)
        header = {
            "format": FORMAT,
            "kdf": "argon2id",
            "time_cost": params.time_cost,
            "memory_kib": params.memory_kib,
            "parallelism": params.parallelism,
            "salt": salt.hex(),
            "nonce": nonce.hex(),
        }
        aad = json.dumps(header, sort_keys=True).encode()
        sealed = AESGCM(_kek(passphrase, salt, params)).encrypt(nonce, self._key.private_bytes_raw(), aad)
        text = json.dumps(header | {"sealed": sealed.hex()}, indent=1)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)

    @classmethod
    def unseal(cls, path: Path, passphrase: str) -> NodeKey:
        try:
            data = json.loads(path.read_text())
            sealed = bytes.fromhex(data.pop("sealed"))
            if data.get("format") != FORMAT or data.get("kdf") != "argon2id":
                raise ValueError("not a carekey node key file")
            params = Argon2Params(int(data["time_cost"]), int(data["memory_kib"]), int(data["parallelism"]))
            aad = json.dumps(data, sort_keys=True).encode()
            raw = AESGCM(_kek(passphrase, bytes.fromhex(data["salt"]), params)).decrypt(
                bytes.fromhex(data["nonce"]), sealed, aad
            )
        except InvalidTag:
            raise KeyCheckFailed(f"wrong passphrase for the node key {path} (or the file is corrupt)") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyCheckFailed(f"the node key {path} is missing or unreadable ({exc})", file=str(path)) from None
        return cls(Ed25519PrivateKey.from_private_bytes(raw))


def verify(public_key: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def new_nonce() -> str:
    return secrets.token_hex(16)


def one_time_code() -> str:
    """The code the laptop shows and the approving admin types (8 characters, no look-alikes)."""
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    code = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"
