"""Properties of the masked, rotation-compensated, normalized Hamming distance (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.biometrics.iris import _kernel, index, matching
from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris.templates import IrisTemplate

N = P.CODE_BITS
COLUMN = P.CODE_ROWS * P.BITS_PER_SAMPLE


@st.composite
def templates(draw, mask_density=st.floats(0.3, 1.0)):
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(mask_density)
    rng = np.random.default_rng(seed)
    return IrisTemplate.from_bits(rng.random(N) < 0.5, rng.random(N) < density)


def rotate(t: IrisTemplate, columns: int) -> IrisTemplate:
    bits, mask = t.bits()
    return IrisTemplate.from_bits(np.roll(bits, columns * COLUMN), np.roll(mask, columns * COLUMN))


@settings(max_examples=60, deadline=None)
@given(templates(), templates())
def test_symmetric(a, b):
    assert matching.compare(a, b) == pytest.approx(matching.compare(b, a))
    assert matching.compare_detail(a, b).shift == -matching.compare_detail(b, a).shift or matching.compare(
        a, b
    ) == pytest.approx(matching.compare(b, a))


@settings(max_examples=60, deadline=None)
@given(templates(), st.integers(-P.MAX_SHIFT, P.MAX_SHIFT))
def test_rotation_within_range_is_compensated(a, k):
    d = matching.compare_detail(a, rotate(a, k))
    assert d.differing == 0 and d.compared == a.usable_bits
    assert d.shift == -k or d.compared == 0


@settings(max_examples=60, deadline=None)
@given(templates(), templates(), st.integers(0, 2**32 - 1))
def test_bits_under_a_mask_never_count(a, b, seed):
    rng = np.random.default_rng(seed)
    bits, mask = a.bits()
    flipped = IrisTemplate.from_bits(bits ^ (~mask & (rng.random(N) < 0.5)), mask)
    assert matching.compare(flipped, b) == matching.compare(a, b)


@settings(max_examples=60, deadline=None)
@given(templates(st.just(1.0)), st.integers(0, N))
def test_unshifted_distance_counts_flipped_bits(a, flips):
    bits, mask = a.bits()
    flipped = bits.copy()
    flipped[:flips] ^= True
    d = matching.compare_detail(a, IrisTemplate.from_bits(flipped, mask), max_shift=0)
    assert (d.differing, d.compared) == (flips, N)
    assert 0.0 <= d.hd <= 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2048), st.integers(0, 2048))
def test_daugman_normalization(differing, compared):
    differing = min(differing, compared)
    score = matching.normalized_hd(differing, compared)
    if compared < P.MIN_BITS_COMPARED:
        assert score >= 0.5
    else:
        hd = differing / compared
        assert score == pytest.approx(0.5 - (0.5 - hd) * np.sqrt(compared / 911))
        assert (score - 0.5) * (hd - 0.5) >= 0  # never crosses chance


@settings(max_examples=25, deadline=None)
@given(st.lists(templates(), min_size=1, max_size=12), templates())
def test_compiled_scan_equals_reference(gallery, probe):
    rows = np.stack([t.words() for t in gallery])
    probes, shifts = index.probe_rows(probe)
    fast, fast_arg = _kernel.scan(rows, probes)
    slow, _ = _kernel._scan_numpy(rows, probes)
    ref = [matching.compare(t, probe) for t in gallery]
    np.testing.assert_allclose(fast, slow, atol=1e-5)
    np.testing.assert_allclose(fast, ref, atol=1e-5)
    assert all(abs(shifts[k]) <= P.MAX_SHIFT for k in fast_arg)


def test_fusion_pools_bits():
    left, right = matching.Comparison(300, 1000, 0), matching.Comparison(100, 500, 2)
    assert matching.fuse_eyes(left, right) == pytest.approx(matching.normalized_hd(400, 1500))
    assert matching.fuse_eyes(None, right) == pytest.approx(right.hd_norm)
    with pytest.raises(ValueError):
        matching.fuse_eyes(None, None)


@settings(max_examples=25, deadline=None)
@given(st.lists(templates(), min_size=1, max_size=12), templates())
def test_coarse_scan_is_the_exact_distance_on_its_half_of_the_words(gallery, probe):
    rows = np.stack([t.words() for t in gallery])
    probes, _ = index.probe_rows(probe)
    keep = np.isin(np.arange(64), np.concatenate([_kernel.COARSE_WORDS, 32 + _kernel.COARSE_WORDS]))
    ref, _ = _kernel._scan_numpy(np.where(keep, rows, 0), np.ascontiguousarray(np.where(keep, probes, 0)), 0)
    np.testing.assert_allclose(_kernel.scan_coarse(rows, probes), ref, atol=1e-5)


@pytest.mark.parametrize("rotation", [0, 5, -11, 15])
def test_two_stage_search_agrees_with_exhaustive_on_a_real_rotated_eye(templates, rotation):
    rng = np.random.default_rng(7)
    rows = rng.integers(0, 2**64 - 1, size=(6000, 64), dtype=np.uint64, endpoint=True)
    rows[:, 32:] = np.tile(templates["40_L_2"].words()[32:], (6000, 1))  # real masks, random codes
    rows[:, :32] &= rows[:, 32:]
    gallery = index.IrisGallery()
    gallery.add_rows([f"syn{i}" for i in range(6000)], rows)
    gallery.add("enrolled", templates["01_L_1"])
    probe = rotate(templates["01_L_3"], rotation)
    fast = gallery.search(probe, top=1)
    exact = gallery.search(probe, top=1, exhaustive=True)
    assert fast[0].key == exact[0].key == "enrolled"
    assert fast[0].score == pytest.approx(exact[0].score)
    assert abs(fast[0].shift + rotation) <= 1
