"""Opaque keys mapped to row slots of a protected 1:N index (shared by the iris and fingerprint ones).

Rows live in growable arrays (doubling), so a search streams contiguous memory; removing a key moves
the last row into the freed slot. The index knows nothing of persons: keys are chosen by the caller.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from carekey.errors import Conflict, NotFound


@dataclass(frozen=True)
class Candidate:
    key: Hashable
    score: float  # similarity in [0, 1] of the modality's protected comparison, higher = more alike


def grown(array: np.ndarray, need: int) -> np.ndarray:
    """``array`` with room for at least ``need`` entries along axis 0 (doubling)."""
    if need <= array.shape[0]:
        return array
    out = np.zeros((max(need, 2 * array.shape[0]), *array.shape[1:]), array.dtype)
    out[: array.shape[0]] = array
    return out


class Slots:
    """The key <-> slot bookkeeping; subclasses store and move the rows."""

    def __init__(self) -> None:
        self._keys: list[Hashable] = []
        self._slot: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._slot

    def keys(self) -> list[Hashable]:
        return list(self._keys)

    def slots(self, keys: Iterable[Hashable]) -> np.ndarray:
        """Slots of ``keys`` (NotFound for an unknown key), e.g. to search a subset of the index."""
        try:
            return np.fromiter((self._slot[k] for k in keys), np.int64)
        except KeyError as exc:
            raise NotFound("No protected template under this key in the index.") from exc

    def _new_keys(self, keys: Sequence[Hashable]) -> tuple[int, int]:
        if len(set(keys)) != len(keys) or any(k in self._slot for k in keys):
            raise Conflict("A protected template is already indexed under this key.")
        start = len(self._keys)
        for offset, key in enumerate(keys):
            self._slot[key] = start + offset
        self._keys.extend(keys)
        return start, len(self._keys)

    def _drop_key(self, key: Hashable) -> tuple[int, int]:
        """Forget ``key``; returns (its slot, the last slot), whose row the caller moves into the first."""
        if key not in self._slot:
            raise NotFound("No protected template under this key in the index.")
        i, last = self._slot.pop(key), len(self._keys) - 1
        if i != last:
            moved = self._keys[last]
            self._keys[i] = moved
            self._slot[moved] = i
        self._keys.pop()
        return i, last

    def _ranked(self, slots: np.ndarray, scores: np.ndarray, top: int) -> list[Candidate]:
        """The ``top`` best (highest score; ties: lowest slot first) as candidates."""
        order = np.lexsort((slots, -scores))[:top]
        return [Candidate(self._keys[slots[i]], float(scores[i])) for i in order]
