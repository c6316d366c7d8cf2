"""The program key file: a JSON document with the key-encryption key and the blind-index key.

Created once by ``carekey init`` with mode 0600; refused on load if readable by group or others.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from carekey.errors import IntegrityError

FORMAT = "carekey-keys-v1"
KEY_BYTES = 32


@dataclass(frozen=True)
class ProgramKeys:
    kek: bytes  # key-encryption key: derives the per-person wrapping keys
    index_key: bytes  # HMAC key of the blind indexes
    key_version: int = 1

    @classmethod
    def generate(cls) -> ProgramKeys:
        return cls(secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES))

    def to_json(self) -> str:
        enc = base64.b64encode
        return json.dumps({"format": FORMAT, "key_version": self.key_version,
                           "kek": enc(self.kek).decode(), "index_key": enc(self.index_key).decode()}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> ProgramKeys:
        try:
            d = json.loads(text)
            if d.get("format") != FORMAT:
                raise ValueError("unknown format")
            keys = cls(base64.b64decode(d["kek"]), base64.b64decode(d["index_key"]), int(d["key_version"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"key file is not a carekey key file: {exc}") from None
        if len(keys.kek) != KEY_BYTES or len(keys.index_key) != KEY_BYTES:
            raise IntegrityError("key file holds keys of the wrong length")
        return keys


def create_key_file(path: Path) -> ProgramKeys:
    """Write a new key file with mode 0600 (atomically; never overwrites an existing one)."""
    keys = ProgramKeys.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keys.to_json())
    return keys


def load_key_file(path: Path) -> ProgramKeys:
    if not path.exists():
        raise IntegrityError(f"key file {path} is missing; run `carekey init`")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise IntegrityError(f"key file {path} has mode {oct(mode)}; it must be 0600 (chmod 600 {path})")
    return ProgramKeys.from_json(path.read_text())


class SecretStore(Protocol):
    """Per-person shred secrets, kept outside the database. ``destroy`` is irreversible."""

    def create(self, key_ref: str) -> bytes: ...

    def get(self, key_ref: str) -> bytes | None: ...

    def destroy(self, key_ref: str) -> None: ...


class MemorySecretStore:
    """In-memory SecretStore for unit tests."""

    def __init__(self) -> None:
        self._secrets: dict[str, bytes] = {}

    def create(self, key_ref: str) -> bytes:
        self._secrets[key_ref] = secrets.token_bytes(KEY_BYTES)
        return self._secrets[key_ref]

    def get(self, key_ref: str) -> bytes | None:
        return self._secrets.get(key_ref)

    def destroy(self, key_ref: str) -> None:
        self._secrets.pop(key_ref, None)
