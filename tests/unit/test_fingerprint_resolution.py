"""Resolution-aware capture: the file's own resolution tag decides the rescaling to 500 ppi."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from carekey.biometrics import resolution
from carekey.biometrics.fingerprint import api
from carekey.errors import CaptureRejected

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fingerprint"


def pixels(name: str) -> np.ndarray:
    return np.array(Image.open(FIXTURES / f"db1_{name}.tif").convert("L"))


def encode(px: np.ndarray, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format=fmt, **options)
    return buf.getvalue()


def enlarged(name: str, factor: float) -> np.ndarray:
    return cv2.resize(pixels(name), None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def enrolled() -> api.FingerprintTemplate:
    return api.extract((FIXTURES / "db1_101_1.tif").read_bytes())


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "JPEG", "BMP"])
def test_a_print_enlarged_twice_and_tagged_1000_dpi_matches_its_original(enrolled, fmt):
    original = api.extract(encode(pixels("101_1"), "PNG"))
    big = api.extract(encode(enlarged("101_1", 2.0), fmt, dpi=(1000, 1000)))
    assert big.minutiae.width == pytest.approx(original.minutiae.width, abs=1)  # back at 500 ppi
    assert api.compare(big, enrolled) >= api.THRESHOLD_FMR_0_01PCT
    other = api.extract(encode(enlarged("101_2", 2.0), fmt, dpi=(1000, 1000)))
    assert api.compare(other, enrolled) >= api.THRESHOLD_FMR_0_1PCT  # another impression, enlarged


def test_the_tag_is_what_makes_the_enlarged_print_match(enrolled):
    """Without its tag the same enlarged image is taken as 500 ppi: ridges twice too wide, no match."""
    untagged = api.extract(encode(enlarged("101_2", 2.0), "PNG"), min_nfiq2=0)
    tagged = api.extract(encode(enlarged("101_2", 2.0), "PNG", dpi=(1000, 1000)))
    assert api.compare(untagged, enrolled) < api.THRESHOLD_FMR_0_1PCT <= api.compare(tagged, enrolled)


def test_a_resolution_stated_by_the_caller_wins_over_the_tag(enrolled):
    data = encode(enlarged("101_2", 1.5), "PNG", dpi=(500, 500))  # wrong tag, the driver knows better
    assert api.compare(api.extract(data, dpi=750), enrolled) >= api.THRESHOLD_FMR_0_1PCT


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "JPEG", "BMP"])
def test_captures_under_350_ppi_are_refused_with_the_reason(fmt):
    small = cv2.resize(pixels("101_1"), None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    with pytest.raises(CaptureRejected) as info:
        api.extract(encode(small, fmt, dpi=(300, 300)))
    message = info.value.message
    assert "300 ppi" in message and "350 ppi" in message and "recapture" in message
    assert info.value.detail["dpi"] == 300


def test_at_350_ppi_and_above_a_capture_is_accepted_and_rescaled(enrolled):
    small = cv2.resize(pixels("101_2"), None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    probe = api.extract(encode(small, "PNG", dpi=(400, 400)), min_nfiq2=0)
    assert probe.minutiae.width == pytest.approx(388, abs=1)
    assert api.compare(probe, enrolled) >= api.THRESHOLD_FMR_0_1PCT


@pytest.mark.parametrize(
    ("fmt", "options", "expected"),
    [
        ("PNG", {"dpi": (1000, 1000)}, 1000.0),
        ("PNG", {"dpi": (508, 508)}, 508.0),
        ("TIFF", {"dpi": (569, 569)}, 569.0),
        ("TIFF", {"resolution": 196.85, "resolution_unit": 3}, 500.0),  # pixels per centimetre
        ("JPEG", {"dpi": (1000, 1000)}, 1000.0),
        ("BMP", {"dpi": (500, 500)}, 500.0),
    ],
)
def test_declared_resolution_is_read_from_each_format(fmt, options, expected):
    found = resolution.declared_resolution(encode(pixels("101_1"), fmt, **options))
    assert found is not None and found.ppi == pytest.approx(expected, abs=0.5)


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("TIFF", {}),
        ("JPEG", {}),
        ("BMP", {}),  # Pillow writes 96 ppi into every BMP: a software default, not a measurement
        ("JPEG", {"dpi": (72, 72)}),
        ("PNG", {"dpi": (1, 1)}),
    ],
)
def test_untagged_or_default_tagged_files_declare_nothing(fmt, options):
    assert resolution.declared_resolution(encode(pixels("101_1"), fmt, **options)) is None


def test_the_fvc_tiff_without_a_resolution_tag_declares_nothing():
    assert resolution.declared_resolution((FIXTURES / "db1_101_1.tif").read_bytes()) is None
    assert resolution.declared_resolution(b"not an image") is None


@pytest.mark.parametrize("compression", [0, 5])  # raw 8-bit, PNG
def test_an_iso_19794_4_record_at_1000_ppi_matches_the_original(enrolled, compression):
    from carekey.biometrics.fingerprint import iso19794_4

    record = iso19794_4.write(enlarged("101_2", 2.0), ppi=1000, compression=compression)
    assert iso19794_4.read(record).ppi_x == 1000
    assert api.compare(api.extract(record), enrolled) >= api.THRESHOLD_FMR_0_1PCT


def test_iso_19794_4_records_under_350_ppi_or_broken_are_refused():
    from carekey.biometrics.fingerprint import iso19794_4

    small = cv2.resize(pixels("101_1"), None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    with pytest.raises(CaptureRejected, match="300 ppi .*ISO/IEC 19794-4"):
        api.extract(iso19794_4.write(small, ppi=300))
    record = iso19794_4.write(pixels("101_1"), ppi=500)
    for bad in (record[:40], record[:-500], record[:29] + b"\x02" + record[30:]):  # truncated; WSQ
        with pytest.raises(CaptureRejected):
            api.extract(bad)
