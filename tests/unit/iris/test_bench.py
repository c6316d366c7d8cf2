"""The iris benchmark module honours the harness contract (similarities in [0, 1], named baselines)."""

import numpy as np
import pytest

from carekey.bench import iris as bench
from carekey.bench import modalities

from .conftest import FIXTURES


def test_modality_is_registered():
    assert modalities.load("iris") is bench


def test_similarities_are_bounded_and_ordered():
    mod = bench.modality()
    a, b, other = (mod.extract(FIXTURES / f"{n}.png") for n in ("01_L_1", "01_L_2", "40_L_2"))
    genuine, impostor = mod.compare(a, b), mod.compare(a, other)
    assert 0.0 <= impostor < genuine <= 1.0
    base = bench.baseline("plain-hd")
    assert 0.0 <= base.compare(a, other) <= 1.0 and base.name == "plain-hd"


def test_unknown_baseline_is_refused():
    with pytest.raises(ValueError):
        bench.baseline("nope")


def test_synthetic_rows_keep_code_inside_real_masks():
    rng = np.random.default_rng(0)
    masks = np.zeros((2, 256), np.uint8)
    masks[0, :128] = 0xFF
    masks[1, 64:] = 0x0F
    rows = bench._synthetic_rows(1000, masks, rng)
    assert rows.dtype == np.uint64 and rows.shape == (1000, 64)
    assert not np.any(rows[:, :32] & ~rows[:, 32:])
    counts = np.bitwise_count(rows[:, 32:]).sum(axis=1)
    assert set(np.unique(counts)) <= {1024, 768}  # a rotated real mask keeps its bit count
    ones = np.bitwise_count(rows[:, :32]).sum(axis=1) / counts
    assert 0.4 < ones.mean() < 0.6
