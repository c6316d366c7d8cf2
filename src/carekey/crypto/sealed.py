"""Passphrase-sealed files (backups): scrypt + AES-256-GCM in the STREAM construction, chunk by chunk.

Key: scrypt (RFC 7914) of the passphrase with a random 16-byte salt; n=2**17, r=8, p=1 by default (128 MiB
of memory per guess; 6.3 s measured on a loaded 2-core machine), the parameters stored in the header so that
they can be raised later.
Body: the plaintext in 1 MiB chunks, each sealed with AES-256-GCM under a nonce made of a random 7-byte prefix,
a 4-byte chunk counter and a 1-byte "last chunk" flag: the STREAM construction of Hoang, Reyhanitabar, Rogaway
and Vizar, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance" (CRYPTO 2015), so a reordered,
dropped, repeated or truncated chunk fails to open. Every chunk's associated data is the SHA-256 of the header, so
the header (KDF parameters, description) cannot be changed either. Both primitives come from ``cryptography``.

Layout: ``MAGIC``, 4-byte big-endian header length, header (JSON), then per chunk a 4-byte big-endian length and
the chunk's ciphertext (with its 16-byte tag).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from carekey.errors import InvalidInput

MAGIC = b"CAREKEY-SEALED-1\n"
CHUNK = 1 << 20
MAX_HEADER = 64 * 1024
MIN_PASSPHRASE = 12
_LEN = struct.Struct(">I")


@dataclass(frozen=True)
class KdfParams:
    n: int = 2**17
    r: int = 8
    p: int = 1


def _key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    return Scrypt(salt=salt, length=32, n=params.n, r=params.r, p=params.p).derive(passphrase.encode())


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(f"the backup passphrase needs at least {MIN_PASSPHRASE} characters")


def seal(
    passphrase: str, src: BinaryIO, dst: BinaryIO, meta: dict[str, object], params: KdfParams = KdfParams()
) -> None:
    """Encrypt ``src`` to ``dst`` under the passphrase; ``meta`` is readable without it (no secrets in it)."""
    check_passphrase(passphrase)
    salt, prefix = os.urandom(16), os.urandom(7)
    header = json.dumps(
        {
            "kdf": {
                "name": "scrypt",
                "n": params.n,
                "r": params.r,
                "p": params.p,
                "salt": base64.b64encode(salt).decode(),
            },
            "aead": "AES-256-GCM STREAM",
            "nonce_prefix": base64.b64encode(prefix).decode(),
            "chunk": CHUNK,
            "meta": meta,
        },
        sort_keys=True,
    ).encode()
    aad = hashlib.sha256(header).digest()
    aead = AESGCM(_key(passphrase, salt, params))
    dst.write(MAGIC + _LEN.pack(len(header)) + header)
    counter, chunk = 0, src.read(CHUNK)
    while True:
        following = src.read(CHUNK)
        last = not following
        sealed = aead.encrypt(_nonce(prefix, counter, last), chunk, aad)
        dst.write(_LEN.pack(len(sealed)) + sealed)
        if last:
            return
        counter, chunk = counter + 1, following


def read_header(src: BinaryIO) -> tuple[dict[str, object], bytes]:
    """The header of a sealed file (and its raw bytes), without the passphrase."""
    if src.read(len(MAGIC)) != MAGIC:
        raise InvalidInput("not a carekey backup (wrong magic bytes)")
    (length,) = _LEN.unpack(src.read(4) or b"\0\0\0\0")
    if not 0 < length <= MAX_HEADER:
        raise InvalidInput("damaged backup: bad header length")
    raw = src.read(length)
    try:
        return json.loads(raw), raw
    except ValueError:
        raise InvalidInput("damaged backup: unreadable header") from None


def unseal(passphrase: str, src: BinaryIO, dst: BinaryIO) -> dict[str, object]:
    """Decrypt ``src`` to ``dst``; returns the header's ``meta``. Raises InvalidInput on a wrong passphrase or
    any change to the file (nothing of a chunk that fails is written)."""
    header, raw = read_header(src)
    kdf = header["kdf"]
    assert isinstance(kdf, dict)
    params = KdfParams(int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
    aead = AESGCM(_key(passphrase, base64.b64decode(str(kdf["salt"])), params))
    prefix = base64.b64decode(str(header["nonce_prefix"]))
    aad = hashlib.sha256(raw).digest()
    counter = 0
    while True:
        length_bytes = src.read(4)
        if len(length_bytes) < 4:
            raise InvalidInput("damaged backup: it ends before its last chunk (truncated)")
        (length,) = _LEN.unpack(length_bytes)
        sealed = src.read(length)
        if len(sealed) != length or length > CHUNK + 16:
            raise InvalidInput("damaged backup: a chunk is cut short")
        for last in (False, True):
            try:
                plain = aead.decrypt(_nonce(prefix, counter, last), sealed, aad)
                break
            except InvalidTag:
                continue
        else:
            if counter == 0:
                raise InvalidInput("the backup cannot be opened: wrong passphrase, or the file was changed")
            raise InvalidInput(f"damaged backup: chunk {counter} fails its authentication tag")
        dst.write(plain)
        if last:
            if src.read(1):
                raise InvalidInput("damaged backup: data after the last chunk")
            meta = header.get("meta", {})
            assert isinstance(meta, dict)
            return meta
        counter += 1
