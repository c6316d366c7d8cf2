"""Black-box tests of the fingerprint facade on real FVC2002 DB1_B impressions (tests/fixtures/fingerprint)."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from carekey.biometrics.fingerprint import api
from carekey.errors import CaptureRejected, TemplateError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fingerprint"


def image(name: str) -> bytes:
    return (FIXTURES / f"db1_{name}.tif").read_bytes()


@pytest.fixture(scope="module")
def templates() -> dict[str, api.FingerprintTemplate]:
    return {name: api.extract(image(name)) for name in ("101_1", "101_2", "101_3", "102_1", "103_1")}


def encode(pixels: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


def pixels(name: str) -> np.ndarray:
    return np.array(Image.open(FIXTURES / f"db1_{name}.tif").convert("L"))


def test_genuine_pairs_score_above_the_threshold(templates):
    for a, b in [("101_1", "101_2"), ("101_1", "101_3"), ("101_2", "101_3")]:
        assert api.compare(templates[a], templates[b]) >= api.THRESHOLD_FMR_0_1PCT, (a, b)


def test_impostor_pairs_score_below_the_threshold(templates):
    for a, b in [("101_1", "102_1"), ("101_1", "103_1"), ("102_1", "103_1"), ("101_2", "103_1")]:
        assert api.compare(templates[a], templates[b]) < api.THRESHOLD_FMR_0_1PCT, (a, b)


def test_scores_are_symmetric_enough_and_bounded(templates):
    a, b = templates["101_1"], templates["101_2"]
    assert 0.0 <= api.compare(a, b) <= 1.0
    assert api.compare(a, a) > api.compare(a, b)
    assert api.compare(a, a) <= 1.0


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "JPEG", "TIFF"])
def test_every_accepted_format_gives_a_matching_template(templates, fmt):
    probe = api.extract(encode(pixels("101_2"), fmt))
    assert api.compare(probe, templates["101_1"]) >= api.THRESHOLD_FMR_0_1PCT


def test_sixteen_bit_grayscale_is_scaled_not_clipped(templates):
    wide = pixels("101_2").astype(np.uint16) * 257
    probe = api.extract(encode(wide, "PNG"))
    assert api.compare(probe, templates["101_1"]) >= api.THRESHOLD_FMR_0_1PCT


def test_dpi_option_rescales_to_500_dpi(templates):
    big = cv2.resize(pixels("101_2"), None, fx=1.25, fy=1.25, interpolation=cv2.INTER_CUBIC)
    probe = api.extract(encode(big, "PNG"), dpi=625)
    assert api.compare(probe, templates["101_1"]) >= api.THRESHOLD_FMR_0_1PCT


def test_persistent_form_round_trips_and_matches_identically(templates):
    a, b = templates["101_1"], templates["101_2"]
    loaded = api.load(api.save(a))
    assert loaded.minutiae == a.minutiae
    assert api.compare(loaded, b) == api.compare(a, b)


def test_corrupt_or_foreign_templates_are_refused(templates):
    data = bytearray(api.save(templates["101_1"]))
    flipped = bytearray(data)
    flipped[40] ^= 0xFF
    other_version = bytearray(data)
    other_version[4] = 99
    for bad in (bytes(flipped), bytes(other_version), bytes(data[:-7]), b"", b"CKFP", b"garbage" * 10):
        with pytest.raises(TemplateError):
            api.load(bad)


def test_two_finger_enrollment_and_fused_comparison():
    enrolled = api.extract_pair([image("101_1"), image("102_1")])
    same = api.extract_pair([image("101_2"), image("102_1")])
    other = api.extract_pair([image("103_1"), image("101_3")])
    assert api.compare_pair(enrolled, same) >= api.THRESHOLD_FMR_0_1PCT
    assert api.compare_pair(enrolled, other) < api.THRESHOLD_FMR_0_1PCT
    with pytest.raises(ValueError):
        api.extract_pair([image("101_1")])


def test_index_finds_the_enrolled_finger_first(templates):
    index = api.FingerprintIndex(fingers=1)
    for key in ("101_1", "102_1", "103_1"):
        index.add(key, [templates[key]])
    found = index.search([templates["101_2"]], top=3)
    assert [c.key for c in found][0] == "101_1"
    assert found[0].score >= api.THRESHOLD_FMR_0_1PCT > found[1].score
    assert api.FingerprintIndex(fingers=1).search([templates["101_2"]]) == []


# --- bad input: every case is a CaptureRejected asking to recapture ------------------------------


def assert_rejected(data: bytes, **kwargs) -> None:
    with pytest.raises(CaptureRejected) as info:
        api.extract(data, **kwargs)
    assert "recapture" in info.value.message


def test_empty_and_unreadable_files_are_rejected():
    assert_rejected(b"")
    assert_rejected(b"\x00\x01not an image at all" * 50)


def test_truncated_file_is_rejected():
    data = encode(pixels("101_1"), "PNG")
    assert_rejected(data[: len(data) // 2])


def test_unsupported_format_is_rejected():
    assert_rejected(encode(pixels("101_1"), "GIF"))


def test_wrong_sizes_are_rejected():
    assert_rejected(encode(pixels("101_1")[:100, :100], "PNG"))
    assert_rejected(encode(np.tile(pixels("101_1"), (6, 6)), "PNG"))
    assert_rejected(image("101_1"), dpi=100)


def test_blank_and_uniform_images_are_rejected():
    assert_rejected(encode(np.full((380, 380), 255, np.uint8), "PNG"))
    assert_rejected(encode(np.full((380, 380), 7, np.uint8), "BMP"))


def test_images_that_are_not_fingerprints_are_rejected():
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (380, 380)).astype(np.uint8)
    blobs = cv2.GaussianBlur(noise, (0, 0), 8)
    blobs = cv2.normalize(blobs, None, 0, 255, cv2.NORM_MINMAX)
    yy, xx = np.mgrid[:380, :380]
    gradient = ((xx + yy) * 255 / 760).astype(np.uint8)
    for fake in (noise, blobs, gradient):
        assert_rejected(encode(fake, "PNG"))


def test_low_nfiq2_quality_is_rejected_at_a_configurable_threshold():
    assert_rejected(image("101_1"), min_nfiq2=101)
    assert api.extract(image("101_1"), min_nfiq2=1).nfiq2 >= 1
