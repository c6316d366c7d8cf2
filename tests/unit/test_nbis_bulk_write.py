"""nbis-py's generated ``write`` (one Python statement per byte) is replaced by one memmove in
``carekey.biometrics.fingerprint.minutiae``: the buffer handed to Rust, and so the minutiae, must not change."""

from __future__ import annotations

from pathlib import Path

import pytest

from carekey.biometrics.fingerprint import api
from carekey.biometrics.fingerprint import minutiae as M

IMAGE = Path(__file__).resolve().parents[1] / "fixtures" / "fingerprint" / "db1_101_1.tif"


def _written(write, value: bytes) -> bytes:
    builder = M._BUILDER()
    try:
        builder.write_i32(7)  # the buffer already holds something: the copy lands after it
        write(builder, value)
        return bytes(builder.rbuf.data[0 : builder.rbuf.len])
    finally:
        builder.discard()


def test_the_bulk_write_is_installed_and_writes_the_same_bytes():
    assert M._BUILDER.write is M._write_in_one_copy
    value = bytes(range(256)) * 300 + b"\x00tail"  # larger than the first allocation: the buffer is grown
    fast, bytewise = _written(M._write_in_one_copy, value), _written(M._BYTEWISE_WRITE, value)
    assert fast == bytewise
    assert fast.endswith(value) and len(fast) == 4 + len(value)


def test_minutiae_are_the_same_with_either_write(monkeypatch: pytest.MonkeyPatch):
    image = IMAGE.read_bytes()
    fast = api.extract(image).to_bytes()
    monkeypatch.setattr(M._BUILDER, "write", M._BYTEWISE_WRITE)
    assert api.extract(image).to_bytes() == fast
