"""The sharded matcher's fan-out without Ray (``ray_shards.packed``, ``merged``, ``task_arg``): the shards' answers
travel as arrays and merge into the list one process gives (best score first, ties by template id)."""

from __future__ import annotations

import numpy as np

from carekey.biometrics.protection.ray_shards import INLINE_BYTES, merged, packed, task_arg


def test_packed_shards_merge_into_the_order_of_one_process():
    parts = [
        [("T-bb", 0.75), ("T-a", 0.5)],
        [],
        [("T-aa", 0.75), ("T-ccc", 0.9), ("T-b", 0.5)],
    ]
    arrays = [packed(p) for p in parts]
    assert all(ids.dtype.kind == "S" and scores.dtype == np.float64 for ids, scores in arrays)
    expected = sorted((hit for p in parts for hit in p), key=lambda kv: (-kv[1], kv[0]))
    assert merged(arrays) == expected == [("T-ccc", 0.9), ("T-aa", 0.75), ("T-bb", 0.75), ("T-a", 0.5), ("T-b", 0.5)]
    assert all(type(k) is str and type(s) is float for k, s in merged(arrays))


def test_scores_survive_the_arrays_exactly_and_empty_answers_merge_to_nothing():
    score = 0.1 + 0.2  # not representable in fewer than 64 bits
    assert merged([packed([("T-x", score)])]) == [("T-x", score)]
    assert merged([packed([]), packed([])]) == []
    assert merged([]) == []


class _Store:
    def __init__(self) -> None:
        self.put_calls = 0

    def put(self, value: object) -> str:
        self.put_calls += 1
        return "ref"


def test_small_probes_travel_inside_the_tasks_large_ones_through_one_object_store_copy():
    store = _Store()
    iris_probe = bytes(33 * 2048 + 40)  # 33 rotations of 2,048 IoM values and the header
    assert task_arg(store, iris_probe) is iris_probe
    small = np.zeros((48, 512), np.uint8)
    assert task_arg(store, small) is small
    assert store.put_calls == 0
    assert task_arg(store, bytes(INLINE_BYTES)) == "ref"
    assert task_arg(store, np.zeros(INLINE_BYTES, np.uint8)) == "ref"
    assert store.put_calls == 2
