"""Protected templates on real fixture images: same finger / eye under the same key matches, under
another key it scores like an impostor; the persistent form refuses other key versions, other
programs' secrets, unprotected and corrupt templates with a clear TemplateError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.biometrics.fingerprint import api as fp_api
from carekey.biometrics.iris import api as iris_api
from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import iris as piris
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.templates import ProtectedTemplate, dump, key_id, load, load_many
from carekey.errors import TemplateError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))


@pytest.fixture(scope="module")
def fingers():
    names = ["db1_101_1", "db1_101_2", "db1_102_1", "db1_103_1"]
    return {n: fp_api.extract((FIXTURES / "fingerprint" / f"{n}.tif").read_bytes()) for n in names}


@pytest.fixture(scope="module")
def eyes():
    names = ["01_L_1", "01_L_2", "40_L_2", "45_R_1"]
    return {n: iris_api.extract((FIXTURES / "iris" / f"{n}.png").read_bytes()) for n in names}


def test_fingerprint_same_key_matches_other_key_is_an_impostor(fingers):
    a = {n: pfp.protect(t, KEY_A) for n, t in fingers.items()}
    b = {n: pfp.protect(t, KEY_B) for n, t in fingers.items()}
    genuine = pfp.compare(a["db1_101_1"], a["db1_101_2"])
    impostors = [pfp.compare(a["db1_101_1"], a[n]) for n in ("db1_102_1", "db1_103_1")]
    assert genuine >= P.FP_THRESHOLD > max(impostors)
    assert pfp.compare(a["db1_101_1"], b["db1_101_2"]) < P.FP_THRESHOLD
    assert pfp.compare(a["db1_101_1"], b["db1_101_1"]) < P.FP_THRESHOLD  # even the very same capture
    assert pfp.compare_pair([a["db1_101_1"], a["db1_102_1"]], [a["db1_101_2"], a["db1_102_1"]]) >= P.FP_THRESHOLD


def test_fingerprint_protected_form_holds_no_minutiae(fingers):
    t = fingers["db1_101_1"]
    codes = pfp.protect(t, KEY_A)
    assert codes.dtype == np.uint8 and codes.shape == (P.FP_ROWS, P.FP_HASHES) and codes.max() < P.FP_Q
    data = dump(ProtectedTemplate("fingerprint", 1, codes), KEY_A)
    assert fp_api.save(t)[5:40] not in data  # not even the ISO record's header


def test_degenerate_cylinders_are_not_hashed(fingers):
    """An empty cylinder centres to the zero vector, whose IoM code is all zeros under every key."""
    import dataclasses

    t = fingers["db1_101_1"]
    bits = t.bits.copy()
    bits[:5] = 0
    for key in (KEY_A, KEY_B):
        codes = pfp.protect(dataclasses.replace(t, bits=bits), key)
        assert not np.any(np.all(codes == 0, axis=1))


def test_chaff_and_generic_cylinders_get_no_credit(fingers):
    """The distinctiveness normalization: a pair is credited only by how far it stands above each cylinder's
    best alternatives, so uniform collisions (however high) and random chaff score 0."""
    real = pfp.protect(fingers["db1_101_1"], KEY_A)
    chaff = np.random.default_rng(0).integers(0, P.FP_Q, real.shape, dtype=np.uint8)
    assert pfp.compare(real, chaff) < 0.5 * P.FP_THRESHOLD
    assert pfp.compare(real, real) > P.FP_THRESHOLD  # the same codes stand out on the diagonal
    uniform = np.full((P.FP_ROWS, P.FP_ROWS), 0.9)
    assert np.allclose(pfp.normalized(uniform), 0.0) and pfp.to_score(pfp.lss(pfp.normalized(uniform))) == 0.0


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1), st.floats(min_value=-0.5, max_value=0.5))
def test_normalization_ignores_a_common_offset_and_credits_a_planted_match(seed, offset):
    rng = np.random.default_rng(seed)
    sims = rng.uniform(0.0, 0.2, (20, 24))
    assert np.allclose(pfp.normalized(sims + offset), pfp.normalized(sims))
    sims[3, 7] = 0.9
    norm = pfp.normalized(sims)
    assert norm[3, 7] == norm.max() > 0
    sims[5, 8 : 9 + P.FP_NORM_TOP] = 0.9  # a generic cylinder, as alike to several of the other print's ...
    norm = pfp.normalized(sims)
    assert norm[5, 8 : 9 + P.FP_NORM_TOP].max() < 0.6 * norm[3, 7]  # ... gets far less credit (row means: ~0.9)


def _greedy_reference(sims: np.ndarray, n_p: int) -> float:
    """Local similarity sort as first written: scan the whole matrix for the largest unused pair, n_p times."""
    used_r, used_c, total, taken = set(), set(), 0.0, 0
    for _ in range(min(n_p, *sims.shape)):
        best, bi, bj = -1e300, -1, -1
        for i in range(sims.shape[0]):
            for j in range(sims.shape[1]):
                if i not in used_r and j not in used_c and sims[i, j] > best:
                    best, bi, bj = sims[i, j], i, j
        used_r.add(bi)
        used_c.add(bj)
        total += best
        taken += 1
    return total / taken if taken else 0.0


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 20), st.integers(1, 20), st.integers(1, 14), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_greedy_lss_takes_the_pairs_of_a_full_scan(na, nb, n_p, levels, seed):
    """The kept-best-column greedy takes the same pairs, ties included, as a scan of the whole matrix each step."""
    sims = np.random.default_rng(seed).integers(0, levels, (na, nb)) / levels  # few levels: many equal values
    assert pfp.lss(sims - 0.3) == pytest.approx(_greedy_reference(sims - 0.3, pfp._n_p(na, nb)), abs=0)
    from carekey.biometrics.protection._kernels import greedy_lss

    assert greedy_lss(np.ascontiguousarray(sims), n_p) == _greedy_reference(sims, n_p)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 30), st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_compiled_comparison_is_normalization_then_lss(k, na, nb, seed):
    """``score_counts`` / ``score_counts_many`` (one compiled loop) are ``to_score(lss(normalized(c / m)))``, and
    the stacked form gives each finger exactly its own score."""
    counts = np.random.default_rng(seed).integers(0, 40, (k, na, nb)).astype(np.int32)
    expected = [pfp.to_score(pfp.lss(pfp.normalized(c / 64))) for c in counts]
    many = pfp.score_counts_many(counts, 64)
    assert many == pytest.approx(expected, abs=1e-12)
    assert list(many) == [pfp.score_counts(c, 64) for c in counts]


def test_iris_same_key_matches_other_key_is_an_impostor(eyes):
    probe_a = piris.protect_probe(eyes["01_L_1"], KEY_A)
    genuine = piris.compare(probe_a, piris.protect(eyes["01_L_2"], KEY_A))
    impostors = [piris.compare(probe_a, piris.protect(eyes[n], KEY_A)) for n in ("40_L_2", "45_R_1")]
    assert genuine >= P.IRIS_THRESHOLD > max(impostors)
    assert piris.compare(probe_a, piris.protect(eyes["01_L_2"], KEY_B)) < P.IRIS_THRESHOLD
    assert piris.compare(probe_a, piris.protect(eyes["01_L_1"], KEY_B)) < P.IRIS_THRESHOLD
    gallery = np.stack([piris.protect(eyes[n], KEY_A) for n in ("40_L_2", "01_L_2", "45_R_1")])
    assert int(np.argmax(piris.search(probe_a, gallery))) == 1


def _template(rows: int = 3) -> ProtectedTemplate:
    codes = np.random.default_rng(rows).integers(0, P.FP_Q, (rows, P.FP_HASHES), dtype=np.uint8)
    return ProtectedTemplate("fingerprint", 2, codes)


def test_round_trip_and_refusals():
    data = dump(_template(), KEY_A)
    assert np.array_equal(load(data, "fingerprint", 2, KEY_A).codes, _template().codes)
    cases = {
        "key_version": lambda: load(data, "fingerprint", 3, KEY_A),
        "key": lambda: load(data, "fingerprint", 2, KEY_B),
        "modality": lambda: load(data, "iris", 2, KEY_A),
        "truncated": lambda: load(data[:10], "fingerprint", 2, KEY_A),
        "checksum": lambda: load(data[:-1] + bytes([data[-1] ^ 1]), "fingerprint", 2, KEY_A),
    }
    for reason, attempt in cases.items():
        with pytest.raises(TemplateError) as err:
            attempt()
        assert err.value.detail["reason"] == reason
    with pytest.raises(TemplateError, match="retired"):
        load(data, "fingerprint", 3, KEY_A)
    assert key_id(KEY_A) != key_id(KEY_B)


def test_unprotected_templates_are_refused(fingers, eyes):
    for raw in (fp_api.save(fingers["db1_101_1"]), eyes["01_L_1"].to_bytes()):
        with pytest.raises(TemplateError, match="unprotected"):
            load(raw, "fingerprint", 1, KEY_A)


def _recrc(body: bytes) -> bytes:
    import struct
    import zlib

    return body + struct.pack(">I", zlib.crc32(body))


def test_templates_of_another_format_or_hash_count_are_refused():
    """Format 1 held 256 hashes per cylinder (1024 per iris): refused by version, and a well-formed
    current-version template with the old hash count is refused by size, never scored."""
    data = dump(_template(), KEY_A)
    old = _recrc(data[:4] + bytes([1]) + data[5:-4])
    with pytest.raises(TemplateError, match="re-enroll") as err:
        load(old, "fingerprint", 2, KEY_A)
    assert err.value.detail["reason"] == "format"
    codes = np.zeros((3, P.FP_HASHES // 2), np.uint8)
    with pytest.raises(TemplateError) as err:
        load(dump(ProtectedTemplate("fingerprint", 2, codes), KEY_A), "fingerprint", 2, KEY_A)
    assert err.value.detail["reason"] == "size"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_any_corrupted_byte_is_refused(position, flip):
    data = bytearray(dump(_template(2), KEY_A))
    data[position % len(data)] ^= flip
    with pytest.raises(TemplateError):
        load(bytes(data), "fingerprint", 2, KEY_A)


def test_load_many_keeps_exactly_the_templates_load_accepts():
    """The start-up's page loader: every template ``load`` refuses (corrupt, another key, version, modality, size or
    out-of-range values) is left out, the others come back with the codes ``load`` gives, at their positions."""
    key, other = bytes(range(32)), bytes(range(1, 33))
    rng = np.random.default_rng(8)
    codes = rng.integers(0, P.FP_Q, (4, P.FP_ROWS, P.FP_HASHES), dtype=np.uint8)
    good = [dump(ProtectedTemplate("fingerprint", 1, c), key) for c in codes]
    corrupt = bytearray(good[1])
    corrupt[40] ^= 1
    out_of_range = codes[2].copy()
    out_of_range[0, 0] = P.FP_Q
    page = [
        good[0],
        bytes(corrupt),
        dump(ProtectedTemplate("fingerprint", 1, codes[1]), other),
        dump(ProtectedTemplate("fingerprint", 2, codes[1]), key),
        dump(ProtectedTemplate("fingerprint", 1, out_of_range), key),
        dump(ProtectedTemplate("fingerprint", 1, codes[2][:10]), key),
        dump(ProtectedTemplate("iris", 1, rng.integers(0, P.IRIS_Q, (1, P.IRIS_HASHES), dtype=np.uint8)), key),
        good[3],
    ]
    loaded, valid = load_many(page, "fingerprint", 1, key, P.FP_ROWS)
    assert valid.tolist() == [0, 7]
    assert np.array_equal(loaded, np.stack([codes[0], codes[3]]))
    for i in (1, 2, 3, 4, 6):
        with pytest.raises(TemplateError):
            load(page[i], "fingerprint", 1, key)
        assert load_many([page[i]], "fingerprint", 1, key, P.FP_ROWS)[1].size == 0
    assert load(page[5], "fingerprint", 1, key).codes.shape[0] == 10  # valid, but not of the page's shape
    assert load_many([], "fingerprint", 1, key, P.FP_ROWS)[0].shape == (0, P.FP_ROWS, P.FP_HASHES)
