"""Iris fuzzy commitment (prototype): round trip on real fixture eyes, the error-correction capacity
(below decodes, above fails), keyed permutation, corrupt helper data, and the benchmark kernel agreeing
with the reference decoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carekey.bench import fc_kernels
from carekey.bench import fuzzy_commitment as fc
from carekey.biometrics.iris import api as iris_api
from carekey.biometrics.iris.templates import IrisTemplate
from carekey.errors import TemplateError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iris"
KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))
PARAMS = fc.FCParams(block=64, k=8, enrol_mask=True, margin=0.0)  # RS(32, 8): up to 12 wrong blocks


@pytest.fixture(scope="module")
def eyes():
    return {n: iris_api.extract((FIXTURES / f"{n}.png").read_bytes()) for n in ("01_L_1", "01_L_2", "40_L_2")}


def _random_template(seed: int) -> IrisTemplate:
    rng = np.random.default_rng(seed)
    return IrisTemplate.from_bits(rng.integers(0, 2, fc.BITS).astype(bool), np.ones(fc.BITS, bool))


def _flip(t: IrisTemplate, positions: np.ndarray) -> IrisTemplate:
    code, mask = t.bits()
    code = code.copy()
    code[positions] ^= True
    return IrisTemplate.from_bits(code, mask)


def test_round_trip_same_and_genuine_eye_unlock_impostor_does_not(eyes):
    c = fc.commit(eyes["01_L_1"], KEY_A, PARAMS)
    assert fc.verify(eyes["01_L_1"], KEY_A, c) > 0.99
    genuine = fc.verify(eyes["01_L_2"], KEY_A, c)
    assert genuine == pytest.approx(1 - iris_api.compare(eyes["01_L_1"], eyes["01_L_2"]), abs=1e-9)
    assert fc.verify(eyes["40_L_2"], KEY_A, c) == 0.0


def test_persistent_form_round_trips(eyes):
    c = fc.commit(eyes["01_L_1"], KEY_A, PARAMS)
    back = fc.Commitment.from_bytes(c.to_bytes())
    assert back.params == PARAMS and back.check == c.check and back.salt == c.salt
    assert np.array_equal(back.helper, c.helper) and np.array_equal(back.mask, c.mask)
    assert fc.verify(eyes["01_L_2"], KEY_A, back) > 0.5


@pytest.mark.parametrize("wrong_blocks, unlocks", [(0, True), (12, True), (13, False), (20, False)])
def test_wrong_blocks_below_rs_capacity_decode_above_fail(wrong_blocks, unlocks):
    t = _random_template(1)
    c = fc.commit(t, KEY_A, PARAMS)
    perm = fc.permutation(KEY_A)
    # complementing every bit of a block turns its codeword into another one: one wrong RS symbol
    probe = _flip(t, perm[: wrong_blocks * PARAMS.block])
    assert (fc.verify(probe, KEY_A, c, max_shift=0) > 0) is unlocks


@pytest.mark.parametrize("errors, unlocks", [(15, True), (40, False)])
def test_scattered_bit_errors_within_hadamard_capacity_decode(errors, unlocks):
    """[64, 7, 32] Hadamard blocks correct up to 15 errors each; 40 per block is past any decoder."""
    t = _random_template(2)
    c = fc.commit(t, KEY_A, PARAMS)
    perm = fc.permutation(KEY_A).reshape(PARAMS.n, PARAMS.block)
    probe = _flip(t, perm[:, :errors].ravel())
    assert (fc.verify(probe, KEY_A, c, max_shift=0) > 0) is unlocks


def test_masked_blocks_are_erasures():
    params = fc.FCParams(block=64, k=8, enrol_mask=True, margin=1 / 32)
    t = _random_template(3)
    code, mask = t.bits()
    perm = fc.permutation(KEY_A)
    for erased, unlocks in ((24, True), (25, False)):  # n - k = 24 erasures at most
        m = mask.copy()
        m[perm[: erased * params.block]] = False
        c = fc.commit(IrisTemplate.from_bits(code, m), KEY_A, params)
        assert (fc.verify(t, KEY_A, c, max_shift=0) > 0) is unlocks


def test_each_commitment_has_its_own_salt_and_check_value(eyes):
    a, b = (fc.commit(eyes["01_L_1"], KEY_A, PARAMS, message=bytes(8)) for _ in range(2))
    assert a.salt != b.salt and a.check != b.check
    fast = fc.commit(eyes["01_L_1"], KEY_A, fc.FCParams(64, 8, slow_check=False))
    assert fc.verify(eyes["01_L_2"], KEY_A, fc.Commitment.from_bytes(fast.to_bytes())) > 0.5


@pytest.mark.parametrize("usable", [600, 1500])
def test_equalized_masks_all_have_the_same_size_and_still_unlock(eyes, usable):
    params = fc.FCParams(128, 3, True, 1 / 32, mask_bits=usable)
    c = fc.Commitment.from_bytes(fc.commit(eyes["01_L_1"], KEY_A, params).to_bytes())
    assert c.params.mask_bits == usable and int(c.mask.sum()) == usable
    assert fc.verify(eyes["01_L_1"], KEY_A, c) > 0.5 and fc.verify(eyes["40_L_2"], KEY_A, c) == 0.0


def test_another_programs_key_does_not_decode(eyes):
    c = fc.commit(eyes["01_L_1"], KEY_A, PARAMS)
    assert fc.verify(eyes["01_L_1"], KEY_B, c) == 0.0
    assert not np.array_equal(fc.permutation(KEY_A), fc.permutation(KEY_B))


def test_corrupt_helper_data_is_a_clear_error(eyes):
    blob = bytearray(fc.commit(eyes["01_L_1"], KEY_A, PARAMS).to_bytes())
    flipped = bytearray(blob)
    flipped[40] ^= 0x01
    with pytest.raises(TemplateError, match="checksum"):
        fc.Commitment.from_bytes(bytes(flipped))
    with pytest.raises(TemplateError, match="truncated|size"):
        fc.Commitment.from_bytes(bytes(blob[:100]))
    with pytest.raises(TemplateError, match="magic"):
        fc.Commitment.from_bytes(b"XXXX" + bytes(blob[4:]))
    with pytest.raises(TemplateError, match="truncated"):
        fc.Commitment.from_bytes("not bytes")  # type: ignore[arg-type]


def test_invalid_parameters_are_refused(eyes):
    with pytest.raises(ValueError, match="unsupported"):
        fc.commit(eyes["01_L_1"], KEY_A, fc.FCParams(block=48, k=8))
    with pytest.raises(ValueError, match="unsupported"):
        fc.commit(eyes["01_L_1"], KEY_A, fc.FCParams(block=64, k=32))
    with pytest.raises(ValueError, match="symbols"):
        fc.commit(eyes["01_L_1"], KEY_A, PARAMS, message=bytes([200] * 8))  # 7-bit symbols


@pytest.mark.parametrize("block, margin", [(32, 0.0), (64, 1 / 32), (128, 0.0)])
def test_benchmark_kernel_counts_errata_as_the_reference_decoder(block, margin):
    rng = np.random.default_rng(block)
    params = fc.FCParams(block, 2, True, margin)
    covered = params.n * block
    probe = rng.choice(np.array([-1, 0, 1], np.int8), (1, 3, fc.BITS), p=[0.3, 0.1, 0.6])
    helper = rng.choice(np.array([-1, 0, 1], np.int8), (1, fc.BITS), p=[0.45, 0.1, 0.45])
    truth = rng.integers(0, 2 * block, (1, params.n))
    symbols, erased = fc.hadamard_decode((probe[0] * helper)[:, :covered].reshape(3, params.n, block), block, margin)
    expected = (2 * ((symbols != truth) & ~erased) + erased).sum(axis=1).min()
    got = fc_kernels.block_errata(probe, helper, truth, np.array([[0, 0]]), block, margin, 10**6)
    assert got[0] == expected


def test_linkage_measure_handles_the_point_mass_of_failed_decodes():
    from carekey.bench.fc_attacks import d_sys

    rng = np.random.default_rng(0)
    nothing = np.zeros(5000)
    nothing[:3] = 0.6
    assert d_sys(np.zeros(300), nothing) < 0.01  # both all-but-never unlock: unlinkable
    linked = np.where(rng.random(300) < 0.9, rng.uniform(0.7, 0.9, 300), 0.0)
    assert d_sys(linked, nothing) > 0.8  # mated unlock across keys: linkable
