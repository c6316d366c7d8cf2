"""The program key file: a JSON document with the key-encryption key, the blind-index key and the
biometric protection secret of the current biometric key version.

Created once by ``carekey init`` with mode 0600; refused on load if readable by group or others.
Key files written before template protection have no biometric secret: ``ensure_biometric_secret``
adds one (version 1) on the next start. ``rotate_biometric`` replaces it by a fresh secret under the
next version; the old secret is not kept, so templates protected with it (a leaked gallery included)
can no longer be used by anyone holding this file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from carekey.errors import Conflict, IntegrityError

FORMAT = "carekey-keys-v1"
KEY_BYTES = 32


@dataclass(frozen=True)
class ProgramKeys:
    kek: bytes  # key-encryption key: derives the per-person wrapping keys
    index_key: bytes  # HMAC key of the blind indexes
    key_version: int = 1
    biometric_secret: bytes | None = None  # keys the template protection (IoM projections)
    biometric_version: int = 0  # 0 = no secret yet (a key file from before template protection)
    biometric_remote: bool = False  # the secret of ``biometric_version`` is held by the matcher service only

    @classmethod
    def generate(cls) -> ProgramKeys:
        return cls(
            secrets.token_bytes(KEY_BYTES),
            secrets.token_bytes(KEY_BYTES),
            biometric_secret=secrets.token_bytes(KEY_BYTES),
            biometric_version=1,
        )

    def check_value(self) -> str:
        """Key-check value of the key-encryption and blind-index keys (kept in the database, compared at every
        start): HMAC-SHA256 of a fixed label under each key, so it proves the key without revealing it. The
        biometric secret is not part of it (``rotate-biometric`` replaces it on purpose)."""
        return "".join(
            hmac.new(k, b"carekey-kcv-v1", hashlib.sha256).hexdigest()[:32] for k in (self.kek, self.index_key)
        )

    def rotated_biometric(self) -> ProgramKeys:
        """These keys with a fresh biometric secret under the next version (the old one is dropped)."""
        return replace(
            self, biometric_secret=secrets.token_bytes(KEY_BYTES), biometric_version=self.biometric_version + 1
        )

    def without_biometric_secret(self) -> ProgramKeys:
        """These keys once the biometric secret moved to the matcher service: the version is kept, the secret
        is not (``carekey matcher init``)."""
        return replace(self, biometric_secret=None, biometric_remote=True)

    def to_json(self) -> str:
        enc = base64.b64encode
        doc = {
            "format": FORMAT,
            "key_version": self.key_version,
            "kek": enc(self.kek).decode(),
            "index_key": enc(self.index_key).decode(),
        }
        if self.biometric_secret is not None:
            doc |= {
                "biometric_version": self.biometric_version,
                "biometric_secret": enc(self.biometric_secret).decode(),
            }
        elif self.biometric_remote:
            doc |= {"biometric_version": self.biometric_version, "biometric_remote": True}
        return json.dumps(doc, indent=1)

    @classmethod
    def from_json(cls, text: str) -> ProgramKeys:
        try:
            d = json.loads(text)
            if d.get("format") != FORMAT:
                raise ValueError("unknown format")
            bio = d.get("biometric_secret")
            keys = cls(
                base64.b64decode(d["kek"]),
                base64.b64decode(d["index_key"]),
                int(d["key_version"]),
                base64.b64decode(bio) if bio is not None else None,
                int(d.get("biometric_version", 0)),
                d.get("biometric_remote") is True,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"key file is not a carekey key file: {exc}") from None
        if len(keys.kek) != KEY_BYTES or len(keys.index_key) != KEY_BYTES:
            raise IntegrityError("key file holds keys of the wrong length")
        if keys.biometric_remote:
            if keys.biometric_secret is not None or keys.biometric_version < 1:
                raise IntegrityError("key file names a remote biometric secret but holds one (or no version)")
        elif (keys.biometric_secret is None) != (keys.biometric_version == 0) or (
            keys.biometric_secret is not None and len(keys.biometric_secret) != KEY_BYTES
        ):
            raise IntegrityError("key file holds an invalid biometric secret or version")
        return keys


def create_key_file(path: Path) -> ProgramKeys:
    """Write a new key file with mode 0600 (atomically; never overwrites an existing one)."""
    keys = ProgramKeys.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keys.to_json())
    return keys


def _replace_key_file(path: Path, keys: ProgramKeys) -> None:
    """Rewrite the key file atomically (a 0600 temporary file renamed over it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keys.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def ensure_biometric_secret(path: Path) -> ProgramKeys:
    """Load the key file, first adding a biometric secret (version 1) when it has none."""
    keys = load_key_file(path)
    if keys.biometric_secret is None and not keys.biometric_remote:
        keys = replace(keys, biometric_secret=secrets.token_bytes(KEY_BYTES), biometric_version=1)
        _replace_key_file(path, keys)
    return keys


def rotate_biometric(path: Path) -> ProgramKeys:
    """Replace the biometric secret by a fresh one under the next version; returns the new keys."""
    keys = ensure_biometric_secret(path)
    if keys.biometric_remote:
        raise Conflict(
            "the biometric secret is held by the matcher service (carekey matcher init): rotate it with "
            "`carekey matcher rotate-key`"
        )
    keys = keys.rotated_biometric()
    _replace_key_file(path, keys)
    return keys


def _read_private(path: Path, hint: str) -> str:
    if not path.exists():
        raise IntegrityError(f"key file {path} is missing; {hint}")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise IntegrityError(f"key file {path} has mode {oct(mode)}; it must be 0600 (chmod 600 {path})")
    try:
        return path.read_text()
    except UnicodeDecodeError:
        raise IntegrityError(f"key file {path} is corrupt (not text)") from None


def load_key_file(path: Path) -> ProgramKeys:
    return ProgramKeys.from_json(_read_private(path, "run `carekey init`"))


def replace_key_file(path: Path, keys: ProgramKeys) -> None:
    """Rewrite the program key file (0600, atomically): ``carekey matcher init`` removes the biometric secret."""
    _replace_key_file(path, keys)


MATCHER_FORMAT = "carekey-matcher-keys-v1"


@dataclass(frozen=True)
class MatcherKeys:
    """The matcher service's own key file: the biometric secret and its version, nothing else (issue 15)."""

    biometric_secret: bytes
    biometric_version: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": MATCHER_FORMAT,
                "biometric_version": self.biometric_version,
                "biometric_secret": base64.b64encode(self.biometric_secret).decode(),
            },
            indent=1,
        )


def create_matcher_key_file(path: Path, keys: MatcherKeys) -> None:
    """Write the matcher's key file with mode 0600 (never overwrites an existing one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keys.to_json())
        fh.flush()
        os.fsync(fh.fileno())


def rotate_matcher_key_file(path: Path) -> MatcherKeys:
    """``carekey matcher rotate-key``: a fresh biometric secret under the next version, written atomically (0600)
    over the matcher's key file; the old secret is not kept (templates under it can no longer be searched)."""
    keys = load_matcher_key_file(path)
    rotated = MatcherKeys(secrets.token_bytes(KEY_BYTES), keys.biometric_version + 1)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(rotated.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return rotated


def adopt_remote_biometric_version(path: Path, version: int) -> ProgramKeys:
    """The registry's side of a matcher key rotation: its key file (which holds no biometric secret) records the
    matcher's new key version, so new captures are stored and searched under it."""
    keys = load_key_file(path)
    if not keys.biometric_remote:
        raise Conflict("this registry holds its own biometric secret: rotate it with `carekey keys rotate-biometric`")
    if version <= keys.biometric_version:
        raise Conflict(
            f"the matcher still protects under biometric key version {version} (this registry: "
            f"{keys.biometric_version}): run `carekey matcher rotate-key` on the matcher's host and restart the "
            "matcher first"
        )
    keys = replace(keys, biometric_version=version)
    _replace_key_file(path, keys)
    return keys


def load_matcher_key_file(path: Path) -> MatcherKeys:
    text = _read_private(path, "run `carekey matcher init`")
    try:
        d = json.loads(text)
        if d.get("format") != MATCHER_FORMAT:
            raise ValueError("unknown format")
        keys = MatcherKeys(base64.b64decode(d["biometric_secret"]), int(d["biometric_version"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{path} is not a carekey matcher key file: {exc}") from None
    if len(keys.biometric_secret) != KEY_BYTES or keys.biometric_version < 1:
        raise IntegrityError(f"{path} holds an invalid biometric secret or version")
    return keys


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
