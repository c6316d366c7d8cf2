"""Each bad capture is refused with CaptureRejected, a recapture hint and a machine-readable reason."""

import cv2
import numpy as np
import pytest

from carekey.biometrics.iris import api, capture, segmentation
from carekey.errors import CaptureRejected

from .conftest import encode_png, gray


def rejected(data: bytes) -> CaptureRejected:
    with pytest.raises(CaptureRejected) as info:
        api.extract(data)
    assert "recapture" in info.value.message
    return info.value


@pytest.fixture(scope="module")
def eye():
    img = gray("01_L_1")
    return img, segmentation.segment(capture.from_array(img))


def test_empty_bytes_are_refused():
    assert rejected(b"").detail["reason"] == "empty"


def test_garbage_bytes_are_unreadable():
    assert rejected(b"\x89PNG\r\n\x1a\n this is not an image").detail["reason"] == "unreadable"


def test_tiny_image_is_refused():
    assert rejected(encode_png(np.full((40, 60), 120, np.uint8))).detail["reason"] == "too_small"


def test_blank_image_has_no_eye():
    assert rejected(encode_png(np.full((240, 320), 200, np.uint8))).detail["reason"] == "no_eye"


def test_noise_image_has_no_eye():
    noise = np.random.default_rng(1).integers(100, 160, (240, 320)).astype(np.uint8)
    assert rejected(encode_png(noise)).detail["reason"] == "no_eye"


def test_closed_eye_is_refused(eye):
    img, seg = eye
    closed = img.copy()
    closed[: int(seg.pupil.y + 0.6 * seg.iris.r)] = int(np.percentile(img, 90))  # lid drawn over the pupil
    err = rejected(encode_png(closed))
    # The scale-free pupil search (issue 12) may take a dark clump of lower lashes for a pupil
    # candidate; the capture is then refused by the occlusion check. Either way: refused as closed.
    assert err.detail["reason"] in ("no_eye", "occluded") and "closed" in err.message


@pytest.mark.parametrize("top,bottom", [(0.5, 0.5), (0.0, 0.6)])
def test_heavily_occluded_eye_is_refused(eye, top, bottom):
    img, seg = eye
    lids = img.copy()
    skin = int(np.percentile(img, 90))
    lids[: int(seg.pupil.y - top * seg.pupil.r)] = skin  # upper lid over the top of the pupil
    lids[int(seg.pupil.y + bottom * seg.pupil.r) :] = skin  # lower lid over its bottom
    err = rejected(encode_png(lids))
    # with both lids over the pupil only a dark sliver is left: the scale-free pupil search (issue 12)
    # finds no round pupil in it at all (no_eye) where the old one fitted a pupil and found it occluded
    assert err.detail["reason"] in ("occluded", "no_eye") and "closed" in err.message


def test_out_of_focus_is_refused(eye):
    img, _ = eye
    assert rejected(encode_png(cv2.GaussianBlur(img, (0, 0), 3))).detail["reason"] == "out_of_focus"


def test_iris_covered_by_lashes_is_refused(eye):
    img, seg = eye
    p, i = seg.pupil, seg.iris
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    ring = ((xx - i.x) ** 2 + (yy - i.y) ** 2 < i.r**2) & ((xx - p.x) ** 2 + (yy - p.y) ** 2 > (1.3 * p.r) ** 2)
    lashes = img.copy()
    for k in range(0, img.shape[1], 4):
        cv2.line(lashes, (k, 0), (k + 10, img.shape[0]), 20, 1)
    covered = img.copy()
    covered[ring] = lashes[ring]
    assert rejected(encode_png(covered)).detail["reason"] == "too_little_iris"


@pytest.mark.parametrize("ext", [".bmp", ".tif", ".jpg", ".png"])
def test_formats_and_colour_are_accepted(eye, ext):
    img, _ = eye
    colour = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    ok, buf = cv2.imencode(ext, colour)
    assert ok
    assert api.extract(buf.tobytes()).usable_bits > 800


def test_sixteen_bit_tiff_is_accepted(eye):
    img, _ = eye
    ok, buf = cv2.imencode(".tif", img.astype(np.uint16) * 257)
    assert ok
    assert api.extract(buf.tobytes()).usable_bits > 800
