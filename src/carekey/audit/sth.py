"""Signed tree heads: (size, root hash, timestamp) signed with the log's Ed25519 key.

The signed bytes follow the spirit of RFC 9162 section 4.10 (TreeHeadSignature: version, timestamp,
tree size, root hash) in a fixed binary layout of our own:

    b"carekey-sth-v1\\x00" || uint64 timestamp_ms || uint64 tree_size || root_hash (32 bytes)

The key id is SHA-256 of the raw 32-byte public key, so an STH names the key that signed it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from carekey.audit.merkle import HASH_SIZE

STH_PREFIX = b"carekey-sth-v1\x00"
ROTATION_PREFIX = b"carekey-log-key-rotation-v1\x00"


def rotation_bytes(old_public_key: bytes, new_public_key: bytes, timestamp_ms: int) -> bytes:
    """What both keys sign when the log key is rotated: the old key vouches for the new one (continuity for
    anyone who trusted the old key) and the new key for the old one (so that a verifier holding only the
    current key accepts the heads signed before; nobody without the current key can add an old key)."""
    return ROTATION_PREFIX + struct.pack(">Q", timestamp_ms) + old_public_key + new_public_key


def verify_signature(public_key: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class KeyRotation:
    """A log key rotation as recorded (``carekey log rotate-key``)."""

    timestamp_ms: int
    old_public_key: bytes
    new_public_key: bytes
    old_signature: bytes  # by the old key over rotation_bytes
    new_signature: bytes  # by the new key over rotation_bytes

    def valid(self) -> bool:
        data = rotation_bytes(self.old_public_key, self.new_public_key, self.timestamp_ms)
        return verify_signature(self.old_public_key, self.old_signature, data) and verify_signature(
            self.new_public_key, self.new_signature, data
        )


def trusted_keys(current_public_key: bytes, rotations: list[KeyRotation]) -> dict[bytes, bytes]:
    """key id -> public key of every log key a verifier holding ``current_public_key`` can trust: the current
    one, and walking back each valid rotation whose new key is already trusted."""
    trusted = {key_id(current_public_key): current_public_key}
    for r in sorted(rotations, key=lambda r: r.timestamp_ms, reverse=True):
        if key_id(r.new_public_key) in trusted and r.valid():
            trusted[key_id(r.old_public_key)] = r.old_public_key
    return trusted


def key_id(public_key: bytes) -> bytes:
    return hashlib.sha256(public_key).digest()


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes
    timestamp_ms: int

    def __post_init__(self) -> None:
        if self.size < 0 or self.timestamp_ms < 0 or len(self.root) != HASH_SIZE:
            raise ValueError("a tree head needs size >= 0, timestamp >= 0 and a 32-byte root")

    def signed_bytes(self) -> bytes:
        return STH_PREFIX + struct.pack(">QQ", self.timestamp_ms, self.size) + self.root


@dataclass(frozen=True)
class SignedTreeHead:
    head: TreeHead
    signature: bytes
    key_id: bytes

    @property
    def size(self) -> int:
        return self.head.size

    @property
    def root(self) -> bytes:
        return self.head.root

    def verify(self, public_key: bytes) -> bool:
        """True when the signature is valid and made by this public key (raw 32 bytes)."""
        if key_id(public_key) != self.key_id:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(self.signature, self.head.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_dict(self) -> dict[str, object]:
        return {
            "tree_size": self.head.size,
            "root_hash": base64.b64encode(self.head.root).decode(),
            "timestamp_ms": self.head.timestamp_ms,
            "signature": base64.b64encode(self.signature).decode(),
            "key_id": self.key_id.hex(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SignedTreeHead:
        try:
            head = TreeHead(
                int(str(data["tree_size"])),
                base64.b64decode(str(data["root_hash"]), validate=True),
                int(str(data["timestamp_ms"])),
            )
            signature = base64.b64decode(str(data["signature"]), validate=True)
            return cls(head, signature, bytes.fromhex(str(data["key_id"])))
        except (KeyError, TypeError, ValueError) as exc:  # binascii.Error is a ValueError
            raise ValueError(f"malformed signed tree head: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> SignedTreeHead:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"malformed signed tree head: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("malformed signed tree head: not an object")
        return cls.from_dict(data)


class LogSigner:
    """The log's Ed25519 key pair. Where the key lives is the caller's choice (bytes or a file path)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        # (private key, public key, key id) swapped as one tuple by ``adopt``: a signature and its key id always
        # come from the same key, even while another thread rotates
        self._state: tuple[Ed25519PrivateKey, bytes, bytes] = (private_key, public, key_id(public))

    @property
    def public_key(self) -> bytes:
        return self._state[1]

    @property
    def key_id(self) -> bytes:
        return self._state[2]

    def adopt(self, other: LogSigner) -> None:
        """Sign with ``other``'s key from now on. A rotation in a running server (``bootstrap.rotate_log_key_live``):
        every holder of this signer (services, the entry-promise signer) switches at once."""
        self._state = other._state

    @classmethod
    def generate(cls) -> LogSigner:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> LogSigner:
        if len(raw) != 32:
            raise ValueError("an Ed25519 private key is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def private_bytes(self) -> bytes:
        return self._state[0].private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def save(self, path: Path) -> None:
        """Write the private key (raw, hex) to a new file readable by the owner only (mode 0600)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.private_bytes().hex() + "\n")

    @classmethod
    def load(cls, path: Path) -> LogSigner:
        try:
            return cls.from_private_bytes(bytes.fromhex(Path(path).read_text().strip()))
        except ValueError as exc:
            raise ValueError(f"{path}: not a carekey log key ({exc})") from exc

    def sign_rotation(self, old_public_key: bytes, new_public_key: bytes, timestamp_ms: int) -> bytes:
        return self._state[0].sign(rotation_bytes(old_public_key, new_public_key, timestamp_ms))

    def sign_bytes(self, data: bytes) -> bytes:
        """A signature over ``data``; callers prefix their own domain tag (entry promises, ``audit.promise``)."""
        return self._state[0].sign(data)

    def signed(self, data: bytes) -> tuple[bytes, bytes]:
        """A signature over ``data`` and the id of the key that made it (one key, even during ``adopt``)."""
        key, _, kid = self._state
        return key.sign(data), kid

    def sign(self, size: int, root: bytes, timestamp_ms: int | None = None) -> SignedTreeHead:
        head = TreeHead(size, root, int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
        key, _, kid = self._state
        return SignedTreeHead(head, key.sign(head.signed_bytes()), kid)
