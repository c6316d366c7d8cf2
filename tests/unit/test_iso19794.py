"""ISO/IEC 19794-2:2005 finger minutiae records: our writer and reader, and third-party records."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import shared_data_or_skip

from carekey.biometrics.fingerprint import iso19794
from carekey.biometrics.fingerprint.minutiae import Minutiae
from carekey.errors import TemplateError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def iso_dir() -> Path:
    """Third-party ISO records (SecuGen's, of FVC2002): skipped without them, failed under CAREKEY_REQUIRE_DATA=1."""
    return shared_data_or_skip("fingerprint", "fvc2002_iso")


@st.composite
def minutiae(draw) -> Minutiae:
    n = draw(st.integers(0, 60))
    ints = lambda hi: st.lists(st.integers(0, hi), min_size=n, max_size=n)  # noqa: E731
    return Minutiae.from_arrays(
        draw(ints(16383)),
        draw(ints(16383)),
        draw(ints(255)),
        draw(ints(2)),
        draw(ints(100)),
        draw(st.integers(1, 65535)),
        draw(st.integers(1, 65535)),
    )


@st.composite
def records(draw) -> iso19794.FingerMinutiaeRecord:
    first = draw(minutiae())
    views = [
        iso19794.FingerView(
            first,
            draw(st.integers(0, 10)),
            draw(st.integers(0, 15)),
            draw(st.integers(0, 15)),
            draw(st.integers(0, 100)),
            draw(st.binary(max_size=20)),
        )
    ]
    for _ in range(draw(st.integers(0, 2))):
        views.append(iso19794.FingerView(draw(minutiae())))
    return iso19794.FingerMinutiaeRecord(
        first.width,
        first.height,
        draw(st.integers(0, 65535)),
        draw(st.integers(0, 65535)),
        draw(st.integers(0, 65535)),
        views,
    )


@settings(max_examples=60, deadline=None)
@given(records())
def test_write_then_read_gives_the_same_record(record):
    data = iso19794.write(record)
    back = iso19794.read(data)
    assert (back.width, back.height, back.x_resolution, back.y_resolution, back.capture_equipment) == (
        record.width,
        record.height,
        record.x_resolution,
        record.y_resolution,
        record.capture_equipment,
    )
    assert len(back.views) == len(record.views)
    for got, want in zip(back.views, record.views, strict=True):
        assert (got.finger_position, got.view_number, got.impression_type, got.quality, got.extended) == (
            want.finger_position,
            want.view_number,
            want.impression_type,
            want.quality,
            want.extended,
        )
        assert np.array_equal(got.minutiae.x, want.minutiae.x) and np.array_equal(got.minutiae.y, want.minutiae.y)
        assert np.array_equal(got.minutiae.angle, want.minutiae.angle)
        assert np.array_equal(got.minutiae.kind, want.minutiae.kind)
        assert np.array_equal(got.minutiae.quality, want.minutiae.quality)
    assert iso19794.write(back) == data


def test_header_layout_follows_the_standard():
    m = Minutiae.from_arrays([10, 300], [20, 400], [0, 64], [1, 2], [50, 60], 388, 374)
    data = iso19794.write(iso19794.FingerMinutiaeRecord(388, 374, views=[iso19794.FingerView(m, 7, 0, 0, 80)]))
    assert data[:8] == b"FMR\x00 20\x00"
    assert struct.unpack(">I", data[8:12])[0] == len(data) == 24 + 4 + 2 * 6 + 2
    assert struct.unpack(">HHHH", data[14:22]) == (388, 374, 197, 197)
    assert data[22] == 1 and data[24:28] == bytes([7, 0, 80, 2])
    assert data[28:34] == bytes([0x40, 10, 0, 20, 0, 50])  # ridge ending = 01 in the top two bits
    assert data[34:40] == bytes([0x81, 0x2C, 0x01, 0x90, 64, 60])  # bifurcation = 10
    assert data[-2:] == b"\x00\x00"  # extended data block length


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: b"XMR\x00" + d[4:], "format identifier"),
        (lambda d: d[:4] + b" 30\x00" + d[8:], "version"),
        (lambda d: d[:-1], "length"),
        (lambda d: d[:8] + struct.pack(">I", len(d) - 5) + d[12:-5], "Truncated"),
        (lambda d: d[:10], "too short"),
        (lambda d: d[:22] + b"\x00" + d[23:], "no finger view"),
    ],
)
def test_malformed_records_are_refused(mutate, message):
    m = Minutiae.from_arrays([10], [20], [0], [1], [50], 300, 300)
    data = iso19794.write(iso19794.FingerMinutiaeRecord(300, 300, views=[iso19794.FingerView(m)]))
    with pytest.raises(TemplateError, match=message):
        iso19794.read(mutate(data))


def test_third_party_records_read_and_round_trip_byte_exact(iso_dir):
    files = sorted(iso_dir.rglob("*.iso"))
    assert len(files) >= 300
    for path in files:
        data = path.read_bytes()
        record = iso19794.read(data)
        assert record.x_resolution == record.y_resolution == 197
        assert 10 <= len(record.views[0].minutiae) <= 255
        assert iso19794.write(record) == data, path.name


def test_our_minutiae_use_the_standard_conventions_of_a_third_party_extractor(iso_dir):
    """Our template of an image matches SecuGen's ISO record of another impression of the finger,
    and not of another finger: coordinates and directions follow the same conventions."""
    from carekey.biometrics.fingerprint import api
    from carekey.biometrics.fingerprint.templates import FingerprintTemplate

    fixtures = ROOT / "tests" / "fixtures" / "fingerprint"
    ours = api.extract((fixtures / "db1_101_1.tif").read_bytes())

    def theirs(name: str) -> FingerprintTemplate:
        record = iso19794.read((iso_dir / "DB1_B" / f"{name}.iso").read_bytes())
        return FingerprintTemplate.from_minutiae(record.views[0].minutiae)

    genuine = api.compare(ours, theirs("101_2"))
    impostors = [api.compare(ours, theirs(name)) for name in ("102_2", "103_2", "104_2")]
    assert genuine > max(impostors) + 0.15
