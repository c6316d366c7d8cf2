"""Sealed files (scrypt + AES-256-GCM STREAM): round trips across chunk boundaries; reordering, dropping,
truncating, changing the header and a wrong passphrase all fail."""

from __future__ import annotations

import io
import os
import struct

import pytest

from carekey.crypto.sealed import CHUNK, MAGIC, KdfParams, read_header, seal, unseal
from carekey.errors import InvalidInput

FAST = KdfParams(n=2**10)
PASS = "a long backup passphrase"


def sealed(data: bytes) -> bytes:
    out = io.BytesIO()
    seal(PASS, io.BytesIO(data), out, {"kind": "test"}, FAST)
    return out.getvalue()


def chunks(blob: bytes) -> tuple[bytes, list[bytes]]:
    (hlen,) = struct.unpack(">I", blob[len(MAGIC) : len(MAGIC) + 4])
    head_end = len(MAGIC) + 4 + hlen
    parts, pos = [], head_end
    while pos < len(blob):
        (n,) = struct.unpack(">I", blob[pos : pos + 4])
        parts.append(blob[pos : pos + 4 + n])
        pos += 4 + n
    return blob[:head_end], parts


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK])
def test_round_trip_across_chunk_boundaries(size):
    data = os.urandom(size)
    blob = sealed(data)
    out = io.BytesIO()
    assert unseal(PASS, io.BytesIO(blob), out) == {"kind": "test"}
    assert out.getvalue() == data
    assert read_header(io.BytesIO(blob))[0]["kdf"]["n"] == FAST.n


def test_reordered_dropped_truncated_or_relabelled_chunks_fail():
    blob = sealed(os.urandom(2 * CHUNK + 10))
    head, parts = chunks(blob)
    assert len(parts) == 3
    for bad in (
        head + parts[1] + parts[0] + parts[2],
        head + parts[0] + parts[2],
        head + parts[0] + parts[1],
        head.replace(b'"test"', b'"tost"') + b"".join(parts),
    ):
        with pytest.raises(InvalidInput):
            unseal(PASS, io.BytesIO(bad), io.BytesIO())
    with pytest.raises(InvalidInput, match="wrong passphrase"):
        unseal("some other passphrase", io.BytesIO(blob), io.BytesIO())
    with pytest.raises(InvalidInput, match="after the last chunk"):
        unseal(PASS, io.BytesIO(blob + parts[2]), io.BytesIO())
