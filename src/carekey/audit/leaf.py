"""The leaf format of the transparency log.

A leaf never holds personal data: it is a salted commitment to one access decision. The salt and the
event fields are stored beside the log (so the person can see and prove each access to their data);
erasing a person deletes those side rows but never changes a leaf, so the Merkle tree and every
signed tree head stay valid after crypto-shredding.

leaf_input = b"carekey-access-v1\\x00" || SHA-256(salt || canonical JSON of the event)
leaf_hash  = SHA-256(0x00 || leaf_input)            (RFC 6962 / RFC 9162 section 2.1.1)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping

LEAF_PREFIX = b"carekey-access-v1\x00"
SALT_BYTES = 32


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def canonical(event: Mapping[str, object]) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8. Values must be JSON scalars."""
    return json.dumps(dict(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def commitment(event: Mapping[str, object], salt: bytes) -> bytes:
    if len(salt) != SALT_BYTES:
        raise ValueError("salt must be 32 bytes")
    return hashlib.sha256(salt + canonical(event)).digest()


def leaf_input(event: Mapping[str, object], salt: bytes) -> bytes:
    return LEAF_PREFIX + commitment(event, salt)


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()
