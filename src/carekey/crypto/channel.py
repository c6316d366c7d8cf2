"""The registry <-> matcher channel credential: HMAC-SHA256 request signatures under a shared secret.

Why this and not mTLS or a bare Unix socket (issue 15 asks to pick and justify):
- the matcher must be reachable from another machine (the Ray cluster of the two-machine runbook), so a Unix
  socket's file permissions alone cannot be the credential (a socket is still offered: ``--socket``);
- mTLS needs a certificate authority, issuing, expiry and revocation to operate at every site; a 32-byte secret
  in a 0600 file on each side (written by ``carekey matcher init``) is one thing to keep and to rotate;
- the signature covers the method, the path, a timestamp and the SHA-256 of the body, so a captured request
  cannot be changed, and cannot be replayed outside the window (and the log receipt inside it is single use).
What it does not give: confidentiality. Images cross the channel, so beyond one machine the channel runs inside
TLS (``carekey matcher serve --ssl-certfile/--ssl-keyfile``, an https:// matcher URL) or a VPN; the README says so.

Header: ``Authorization: CK-HMAC t=<unix ms>,sig=<hex HMAC-SHA256(secret, method \\n path \\n t \\n sha256(body))>``
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import time
from pathlib import Path

from carekey.errors import IntegrityError

SCHEME = "CK-HMAC"
WINDOW_MS = 60_000
CREDENTIAL_BYTES = 32


def _mac(secret: bytes, method: str, path: str, t: int, body: bytes) -> str:
    data = f"{method.upper()}\n{path}\n{t}\n".encode() + hashlib.sha256(body).digest()
    return hmac.new(secret, data, hashlib.sha256).hexdigest()


def sign(secret: bytes, method: str, path: str, body: bytes, now_ms: int | None = None) -> str:
    """The ``Authorization`` header value of one request."""
    t = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{SCHEME} t={t},sig={_mac(secret, method, path, t, body)}"


def verify(
    secret: bytes, method: str, path: str, body: bytes, header: str | None, now_ms: int | None = None
) -> str | None:
    """None when the header is a valid, current signature of this request; otherwise why not."""
    if not header or not header.startswith(SCHEME + " "):
        return "no CK-HMAC credential"
    try:
        fields = dict(part.split("=", 1) for part in header[len(SCHEME) + 1 :].split(","))
        t, sig = int(fields["t"]), fields["sig"]
    except (KeyError, ValueError):
        return "malformed credential"
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - t) > WINDOW_MS:
        return "credential timestamp outside the window (check the clocks)"
    if not hmac.compare_digest(sig, _mac(secret, method, path, t, body)):
        return "bad signature"
    return None


def create_credential(*paths: Path) -> bytes:
    """A fresh shared secret written (hex, 0600, never overwriting) to each path: the registry's and the
    matcher's copy."""
    secret = secrets.token_bytes(CREDENTIAL_BYTES)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret.hex() + "\n")
    return secret


def load_credential(path: Path) -> bytes:
    if not path.exists():
        raise IntegrityError(f"the matcher credential {path} is missing; run `carekey matcher init`")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise IntegrityError(f"the matcher credential {path} must have mode 0600 (chmod 600 {path})")
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise IntegrityError(f"the matcher credential {path} is corrupt") from None
    if len(secret) != CREDENTIAL_BYTES:
        raise IntegrityError(f"the matcher credential {path} is not {CREDENTIAL_BYTES} bytes")
    return secret
