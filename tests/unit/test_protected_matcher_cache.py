"""ProtectedMatcher.search through its in-memory indexes: stored templates are loaded once, deleted or
replaced ones are never scored stale, a search sees only the ids it is given, a bad stored template is
skipped (not fatal to the search) and a bad probe fails."""

from __future__ import annotations

import numpy as np
import pytest

from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import gallery_cache
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.matcher import ProtectedMatcher
from carekey.biometrics.protection.templates import ProtectedTemplate, dump
from carekey.errors import TemplateError

KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))
RNG = np.random.default_rng(11)


def _iris(codes: np.ndarray, key: bytes = KEY_A) -> bytes:
    return dump(ProtectedTemplate("iris", 1, np.atleast_2d(codes)), key)


def _finger(codes: np.ndarray, key: bytes = KEY_A) -> bytes:
    return dump(ProtectedTemplate("fingerprint", 1, codes), key)


def _counting(matcher: ProtectedMatcher, monkeypatch) -> list[int]:
    calls = [0]
    load = matcher.load

    def counted(modality, data):
        calls[0] += 1
        return load(modality, data)

    monkeypatch.setattr(matcher, "load", counted)
    return calls


def test_iris_gallery_is_loaded_once_and_follows_deletions(monkeypatch):
    matcher = ProtectedMatcher(KEY_A, 1)
    calls = _counting(matcher, monkeypatch)
    codes = RNG.integers(0, P.IRIS_Q, (30, P.IRIS_HASHES), dtype=np.uint8)
    gallery = [(f"T{i}", _iris(c)) for i, c in enumerate(codes)]
    probe = _iris(np.stack([RNG.integers(0, P.IRIS_Q, P.IRIS_HASHES), codes[7]]).astype(np.uint8))
    first = matcher.search("iris", probe, gallery)
    assert first[0] == ("T7", 1.0) and len(first) == 30
    assert calls[0] == 31  # the probe and every stored template
    again = matcher.search("iris", probe, gallery)
    assert again == first and calls[0] == 32  # only the probe
    without = [g for g in gallery if g[0] != "T7"]
    rest = matcher.search("iris", probe, without)
    assert len(rest) == 29 and all(ref != "T7" for ref, _ in rest)
    replaced = [(ref, _iris(codes[0]) if ref == "T7" else data) for ref, data in gallery]
    assert matcher.search("iris", probe, replaced)[0][0] != "T7"  # new bytes under the same id: reloaded


def test_unseen_ids_are_evicted_and_subsets_are_searched_alone():
    matcher = ProtectedMatcher(KEY_A, 1)
    codes = RNG.integers(0, P.FP_Q, (6, P.FP_ROWS, P.FP_HASHES), dtype=np.uint8)
    left = [(f"L{i}", _finger(c)) for i, c in enumerate(codes[:3])]
    right = [(f"R{i}", _finger(c)) for i, c in enumerate(codes[3:])]
    probe = _finger(codes[4])
    assert matcher.search("fingerprint", probe, right)[0][0] == "R1"
    found = matcher.search("fingerprint", probe, left)
    assert {ref for ref, _ in found} <= {"L0", "L1", "L2"}
    assert found[0][1] == pytest.approx(max(pfp.compare(codes[4], c) for c in codes[:3]))
    assert len(matcher._cache) == 6
    for _ in range(2 * gallery_cache.EVICT_AFTER):
        matcher.search("fingerprint", probe, left)
    assert len(matcher._cache) == 3  # the right-hand ids were not seen for EVICT_AFTER searches


def test_bad_stored_templates_are_skipped_not_fatal_and_bad_probes_fail():
    matcher = ProtectedMatcher(KEY_A, 1)
    codes = RNG.integers(0, P.IRIS_Q, (3, P.IRIS_HASHES), dtype=np.uint8)
    good = [(f"T{i}", _iris(c)) for i, c in enumerate(codes)]
    probe = _iris(codes[2][None, :])
    corrupt = bytearray(_iris(codes[0]))
    corrupt[30] ^= 1
    for i, bad in enumerate((bytes(corrupt), _iris(codes[0], KEY_B), _iris(np.stack([codes[0], codes[1]])))):
        found = matcher.search("iris", probe, [*good, (f"X{i}", bad)])  # one bad row does not stop the search
        assert found[0] == ("T2", 1.0) and {ref for ref, _ in found} == {"T0", "T1", "T2"}
        assert f"X{i}" in matcher._cache.rejected
        assert matcher.search("iris", probe, [(f"X{i}", bad)]) == []
    with pytest.raises(TemplateError):
        matcher.search("iris", bytes(corrupt), good)  # a bad probe is the caller's error
    assert matcher.search("iris", probe, good)[0] == ("T2", 1.0)
    assert matcher.search("iris", probe, []) == []
    with pytest.raises(TemplateError):
        matcher.search("fingerprint", _finger(codes[:2, :P.FP_HASHES] % P.FP_Q), [])
