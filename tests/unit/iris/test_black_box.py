"""Black-box tests on real MMU1 images: the same eye matches, different eyes do not."""

import itertools

import pytest

from carekey.biometrics.iris import api

SAME = ["01_L_1", "01_L_2", "01_L_3"]
OTHERS = ["40_L_2", "45_R_1"]


@pytest.mark.parametrize("a,b", list(itertools.combinations(SAME, 2)))
def test_same_eye_matches(templates, a, b):
    d = api.compare(templates[a], templates[b])
    assert api.is_match(d), d


@pytest.mark.parametrize("a,b", [(a, b) for a in SAME + OTHERS for b in OTHERS if a < b])
def test_different_eyes_do_not_match(templates, a, b):
    d = api.compare(templates[a], templates[b])
    assert not api.is_match(d) and d > 0.38, d


def test_two_eye_fusion_separates_better_than_either_eye(templates):
    genuine = api.compare_eyes((templates["01_L_1"], templates["01_L_2"]), (templates["01_L_1"], templates["01_L_3"]))
    single = api.compare(templates["01_L_1"], templates["01_L_2"])
    impostor = api.compare_eyes((templates["01_L_1"], templates["40_L_2"]), (templates["01_L_2"], templates["45_R_1"]))
    assert genuine < single  # more bits at the same HD: stronger evidence
    assert impostor > api.MATCH_THRESHOLD
    assert api.compare_eyes(None, (templates["01_L_1"], templates["01_L_2"])) == pytest.approx(single)


def test_gallery_finds_the_mated_key(templates):
    gallery = api.IrisGallery()
    for name in ["01_L_1", *OTHERS]:
        gallery.add(f"key-{name}", templates[name])
    best = gallery.search(templates["01_L_3"], top=3)
    assert best[0].key == "key-01_L_1"
    assert best[0].score == pytest.approx(api.compare(templates["01_L_1"], templates["01_L_3"]), abs=1e-5)
    assert [c.score for c in best] == sorted(c.score for c in best)


def test_persistent_round_trip_keeps_scores(templates):
    t = templates["01_L_2"]
    loaded = api.load_template(t.to_bytes())
    assert api.compare(loaded, templates["01_L_1"]) == api.compare(t, templates["01_L_1"])


@pytest.mark.parametrize("scale", [1.6, 2.4])
def test_higher_resolution_sensor_still_matches(templates, scale):
    """Sizes are relative to the eye: a 2x sensor (640x480-class) gives the same code."""
    import cv2

    from .conftest import encode_png, gray

    big = cv2.resize(gray("01_L_1"), None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, 40, 40, 60, 60, cv2.BORDER_REFLECT)
    t = api.extract(encode_png(big))
    assert api.is_match(api.compare(templates["01_L_2"], t))
    assert not api.is_match(api.compare(templates["40_L_2"], t))
