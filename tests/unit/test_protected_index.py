"""Protected 1:N indexes: the two-stage / pre-filtered search returns the exhaustive protected search's
top candidate (random codes under hypothesis, real fixture images), a probe protected under another
program's key is not found, and the bit-sliced kernel counts exactly what the one-hot comparison counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.biometrics.fingerprint import api as fp_api
from carekey.biometrics.iris import api as iris_api
from carekey.biometrics.protection import _search_kernels as K
from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import fingerprint_index as FI
from carekey.biometrics.protection import iris as piris
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.fingerprint_index import ProtectedFingerprintIndex
from carekey.biometrics.protection.iris_index import ProtectedIrisIndex
from carekey.errors import Conflict, NotFound

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 5), st.integers(1, 40), st.sampled_from([2, 8, 16]), st.integers(0, 2**32))
def test_sliced_scan_counts_differing_hash_values(rows, rotations, words, q, seed):
    rng = np.random.default_rng(seed)
    m, planes = 64 * words, K.planes_of(q)
    codes = rng.integers(0, q, (8 * -(-rows // 8), m), dtype=np.uint8)
    probe = rng.integers(0, q, (rotations, m), dtype=np.uint8)
    probe[0, : m // 2] = codes[0, : m // 2]
    expected = (codes[:, None, :] != probe[None]).sum(axis=2).min(axis=1)
    blocks, probes = K.interleave(K.bit_planes(codes, planes)), K.bit_planes(probe, planes)
    assert np.array_equal(K.sliced_scan(blocks, probes), expected)
    assert np.array_equal(K._sliced_numpy(blocks, probes), expected)


@pytest.mark.parametrize("words", [1, 8, 31, 32, 63, 64])
def test_sliced_scan_counts_every_value_differing(words):
    """Every hash value differs (the most a row can count): no counter of the kernel overflows, whatever the
    number of 64-bit words per plane (the vector kernels sum per-byte counts over several words)."""
    m, planes = 64 * words, K.planes_of(8)
    codes = np.zeros((16, m), np.uint8)
    probe = np.full((2, m), 7, np.uint8)
    probe[1, :5] = 0  # the second rotation agrees on five values: the minimum is m - 5
    blocks, probes = K.interleave(K.bit_planes(codes, planes)), K.bit_planes(probe, planes)
    assert np.array_equal(K.sliced_scan(blocks, probes), np.full(16, m - 5))
    assert np.array_equal(K._sliced_numpy(blocks, probes), np.full(16, m - 5))


def _noisy(code: np.ndarray, keep: float, rng: np.random.Generator, q: int) -> np.ndarray:
    out = rng.integers(0, q, code.shape, dtype=np.uint8)
    same = rng.random(code.shape) < keep
    out[same] = code[same]
    return out


@settings(max_examples=15, deadline=None)
@given(st.integers(50, 600), st.floats(0.25, 0.9), st.integers(0, 2**32))
def test_iris_two_stage_top1_is_the_exhaustive_top1(n, keep, seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, P.IRIS_Q, (n, P.IRIS_HASHES), dtype=np.uint8)
    mate = int(rng.integers(n))
    probe = rng.integers(0, P.IRIS_Q, (5, P.IRIS_HASHES), dtype=np.uint8)
    probe[int(rng.integers(5))] = _noisy(codes[mate], keep, rng, P.IRIS_Q)
    index = ProtectedIrisIndex(capacity=7)  # grows while adding
    index.add([f"e{i}" for i in range(n)], codes)
    fast = index.search(probe, top=3, exhaustive=False, shortlist=16)
    exact = index.search(probe, top=3, exhaustive=True)
    assert fast[0] == exact[0]
    assert fast[0].key == f"e{mate}"
    assert exact[0].score == pytest.approx(piris.search(probe, codes)[mate])


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(0, 10), st.integers(0, 2**32))
def test_iris_index_scores_every_row_exactly_as_the_one_hot_comparison(n, rotations, removed, seed):
    """The bit-sliced stage 2 is the protected comparison itself, after adds and removals alike."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, P.IRIS_Q, (n, P.IRIS_HASHES), dtype=np.uint8)
    probe = rng.integers(0, P.IRIS_Q, (rotations, P.IRIS_HASHES), dtype=np.uint8)
    probe[0] = _noisy(codes[0], 0.5, rng, P.IRIS_Q)
    index = ProtectedIrisIndex(capacity=3)
    index.add([f"e{i}" for i in range(n)], codes)
    gone = {f"e{i}" for i in rng.choice(n, min(removed, n - 1), replace=False)}
    for key in gone:
        index.remove(key)
    got = {c.key: c.score for c in index.search(probe, top=n, exhaustive=True)}
    expected = piris.search(probe, codes)
    assert set(got) == {f"e{i}" for i in range(n)} - gone
    assert all(got[f"e{i}"] == pytest.approx(expected[i], abs=1e-12) for i in range(n) if f"e{i}" not in gone)


def test_iris_index_add_remove_and_restriction():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, P.IRIS_Q, (20, P.IRIS_HASHES), dtype=np.uint8)
    index = ProtectedIrisIndex(capacity=4)
    index.add([f"e{i}" for i in range(20)], codes)
    with pytest.raises(Conflict):
        index.add(["e3"], codes[:1])
    with pytest.raises(ValueError):
        index.add(["x"], np.full((1, P.IRIS_HASHES), P.IRIS_Q, np.uint8))
    index.remove("e5")  # e19 moves into slot 5: its stage-1 planes must move with it
    with pytest.raises(NotFound):
        index.remove("e5")
    assert index.search(codes[19][None, :], top=1, exhaustive=False, shortlist=2)[0].key == "e19"
    assert all(c.key != "e5" for c in index.search(codes[5][None, :], top=19, exhaustive=True))
    among = index.slots(["e1", "e2"])
    assert [c.key for c in index.search(codes[7][None, :], top=5, among=among)] in (["e1", "e2"], ["e2", "e1"])


@pytest.fixture(scope="module")
def fingers():
    names = ["db1_101_1", "db1_101_2", "db1_102_1", "db1_103_1"]
    return {n: fp_api.extract((FIXTURES / "fingerprint" / f"{n}.tif").read_bytes()) for n in names}


@pytest.fixture(scope="module")
def eyes():
    names = ["01_L_1", "01_L_2", "40_L_2", "45_R_1"]
    return {n: iris_api.extract((FIXTURES / "iris" / f"{n}.png").read_bytes()) for n in names}


def _fingerprint_index(fingers, extra: int, seed: int) -> ProtectedFingerprintIndex:
    rng = np.random.default_rng(seed)
    index = ProtectedFingerprintIndex(KEY_A, capacity=2)
    for name in ("db1_101_1", "db1_102_1", "db1_103_1"):
        index.add(name, pfp.protect(fingers[name], KEY_A))
    for i in range(extra):  # other real fingers' codes, shuffled: locally real, globally no enrolled finger
        donor = pfp.protect(fingers[("db1_102_1", "db1_103_1")[i % 2]], KEY_A)
        index.add(f"other{i}", _noisy(donor, 0.5, rng, P.FP_Q))
    return index


def test_fingerprint_prefilter_finds_the_exhaustive_top1(fingers):
    index = _fingerprint_index(fingers, extra=40, seed=1)
    probe = pfp.protect(fingers["db1_101_2"], KEY_A)
    exact = index.search(probe, top=1, shortlist=len(index))
    fast = index.search(probe, top=1, shortlist=3)  # 3 of 43 fingers pass the pre-filter
    assert exact[0].key == fast[0].key == "db1_101_1"
    assert fast[0].score == pfp.compare(probe, index.codes(index.slots(["db1_101_1"])[0]))
    assert fast[0].score >= P.FP_THRESHOLD


def test_fingerprint_probe_under_another_key_is_not_found(fingers):
    index = _fingerprint_index(fingers, extra=10, seed=2)
    probe = pfp.protect(fingers["db1_101_2"], KEY_B)
    assert all(c.score < P.FP_THRESHOLD for c in index.search(probe, top=5, shortlist=len(index)))


def test_iris_index_on_fixture_eyes(eyes):
    rng = np.random.default_rng(4)
    names = ["01_L_2", "40_L_2", "45_R_1"]
    real = np.stack([piris.protect(eyes[n], KEY_A) for n in names])
    index = ProtectedIrisIndex()
    index.add(names, real)
    index.add([f"r{i}" for i in range(300)], rng.integers(0, P.IRIS_Q, (300, P.IRIS_HASHES), dtype=np.uint8))
    probe = piris.protect_probe(eyes["01_L_1"], KEY_A)
    fast = index.search(probe, top=1, exhaustive=False, shortlist=4)
    assert fast == index.search(probe, top=1, exhaustive=True)
    assert fast[0].key == "01_L_2" and fast[0].score >= P.IRIS_THRESHOLD
    other = index.search(piris.protect_probe(eyes["01_L_1"], KEY_B), top=3, exhaustive=True)
    assert all(c.score < P.IRIS_THRESHOLD for c in other)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 12), st.floats(0.0, 1.0), st.integers(0, 2**32))
def test_packed_fingerprint_index_scores_exactly_as_the_unpacked_codes(n, noise, seed):
    """Two 4-bit values a byte lose nothing: every score equals ``fingerprint.compare`` of the codes as given,
    so the packed index ranks the same fingers first as the full-precision comparison."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, P.FP_Q, (n, P.FP_ROWS, P.FP_HASHES), dtype=np.uint8)
    index = ProtectedFingerprintIndex(capacity=1)
    index.add_many([f"f{i}" for i in range(n)], list(codes))
    probe = _noisy(codes[0], noise, rng, P.FP_Q)
    expected = np.array([pfp.compare(probe, c) for c in codes])
    assert np.array_equal(index.scores(probe, np.arange(n)), expected)
    assert all(np.array_equal(index.codes(i), codes[i]) for i in range(n))
    ranked = index.search(probe, top=n, shortlist=n)
    assert [c.score for c in ranked] == sorted(expected.tolist(), reverse=True)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32))
def test_fingerprint_prefilter_counts_the_shared_band_pairs(n, seed):
    """The pre-filter's vote is the size of the intersection of the (band, pair of values) sets, each pair once."""
    rng = np.random.default_rng(seed)
    q = int(rng.choice([2, 4, P.FP_Q]))  # few values: many pairs repeat within a finger, so counting once matters
    codes = rng.integers(0, q, (n, P.FP_ROWS, P.FP_HASHES), dtype=np.uint8)
    probe = rng.integers(0, q, (P.FP_ROWS, P.FP_HASHES), dtype=np.uint8)
    index = ProtectedFingerprintIndex(capacity=1)
    index.add_many([f"f{i}" for i in range(n)], list(codes))

    def pairs(c: np.ndarray) -> set[tuple[int, int, int]]:
        return {(b, int(c[r, 2 * b]), int(c[r, 2 * b + 1])) for r in range(P.FP_ROWS) for b in range(P.FP_INDEX_BANDS)}

    expected = [len(pairs(c) & pairs(probe)) for c in codes]
    assert index.prefilter_votes(probe, np.arange(n)).tolist() == expected
    assert index.prefilter_votes(probe, np.array([n - 1, 0])).tolist() == [expected[-1], expected[0]]


def test_fingerprint_index_memory_is_the_packed_codes_and_the_band_bitset():
    """Bytes per finger: its FP_ROWS x FP_HASHES values at ceil(log2 FP_Q) bits each plus one bit per possible
    (band, value) pair of the pre-filter, nothing else; 14 KiB at the shipped parameters (32 KiB before)."""
    rng = np.random.default_rng(3)
    codes = rng.integers(0, P.FP_Q, (3, P.FP_ROWS, P.FP_HASHES), dtype=np.uint8)
    index = ProtectedFingerprintIndex(capacity=1)
    index.add_many(["a", "b", "c"], list(codes))
    bound = P.FP_ROWS * P.FP_HASHES * K.planes_of(P.FP_Q) // 8 + P.FP_INDEX_BANDS * P.FP_Q**P.FP_INDEX_BAND // 8
    assert index.nbytes == 3 * bound == 3 * FI.BYTES_PER_FINGER
    assert index._packed[:3].nbytes + index._bits[:3].nbytes == 3 * bound  # the arrays hold exactly that
    assert bound <= 14 * 1024
    index.remove("b")
    assert index.nbytes == 2 * bound and sorted(index.keys()) == ["a", "c"]
    assert np.array_equal(index.codes(index.slots(["c"])[0]), codes[2])
    assert np.array_equal(index.prefilter_votes(codes[2], index.slots(["c"])), [_pairs(codes[2])])


def _pairs(codes: np.ndarray) -> int:
    return len(
        {(b, int(codes[r, 2 * b]), int(codes[r, 2 * b + 1])) for r in range(P.FP_ROWS) for b in range(P.FP_INDEX_BANDS)}
    )
