"""1:N search: a bit-packed gallery of iris templates under opaque keys.

Rows are 64 uint64 words (code then mask, 512 bytes) in one contiguous array that grows by
doubling, so a search streams the gallery once through the C kernel (``_kernel.py``) with every
rotation of the probe held in L1. The gallery knows nothing of persons: keys are opaque strings
chosen by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from carekey.biometrics.iris import _kernel, matching
from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris.templates import IrisTemplate
from carekey.errors import Conflict, NotFound

ROW_WORDS = 64


@dataclass(frozen=True)
class Candidate:
    key: str
    score: float  # normalized Hamming distance, lower = more alike
    shift: int  # code columns of rotation at the best alignment


def probe_rows(probe: IrisTemplate, max_shift: int = P.MAX_SHIFT) -> tuple[np.ndarray, np.ndarray]:
    """The probe rotated by every shift, as gallery-shaped rows (S, 64), and the shift values."""
    shifts = matching.shift_range(max_shift)
    codes, masks = matching.shifted(probe, shifts)
    return np.ascontiguousarray(np.concatenate([codes, masks], axis=1)), shifts


class IrisGallery:
    """Templates under unique opaque keys; ``search`` returns the best candidates, best first."""

    def __init__(self, capacity: int = 1024) -> None:
        self._rows = np.zeros((max(capacity, 1), ROW_WORDS), np.uint64)
        self._keys: list[str] = []
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    @property
    def rows(self) -> np.ndarray:
        """The packed gallery (read-only view), one 512-byte row per template."""
        view = self._rows[: len(self._keys)]
        view.flags.writeable = False
        return view

    @property
    def nbytes(self) -> int:
        return len(self._keys) * ROW_WORDS * 8

    def add(self, key: str, template: IrisTemplate) -> None:
        self.add_rows([key], template.words()[None, :])

    def add_rows(self, keys: list[str], rows: np.ndarray) -> None:
        """Bulk insert of packed rows (N, 64) uint64, e.g. templates loaded from storage."""
        if rows.dtype != np.uint64 or rows.ndim != 2 or rows.shape != (len(keys), ROW_WORDS):
            raise ValueError("rows must be uint64 of shape (len(keys), 64)")
        if len(set(keys)) != len(keys) or any(k in self._index for k in keys):
            raise Conflict("An iris template is already enrolled under this key.")
        if any(np.any(r[:32] & ~r[32:]) for r in rows[: min(len(rows), 1024)]):
            raise ValueError("code bits outside the mask")
        n = len(self._keys)
        need = n + len(keys)
        if need > self._rows.shape[0]:
            grown = np.zeros((max(need, 2 * self._rows.shape[0]), ROW_WORDS), np.uint64)
            grown[:n] = self._rows[:n]
            self._rows = grown
        self._rows[n:need] = rows
        for offset, key in enumerate(keys):
            self._index[key] = n + offset
        self._keys.extend(keys)

    def remove(self, key: str) -> None:
        """Delete a key's template (e.g. consent revoked): the last row moves into its slot."""
        if key not in self._index:
            raise NotFound("No iris template under this key.")
        i, last = self._index.pop(key), len(self._keys) - 1
        if i != last:
            moved = self._keys[last]
            self._rows[i] = self._rows[last]
            self._keys[i] = moved
            self._index[moved] = i
        self._rows[last] = 0
        self._keys.pop()

    def search(
        self, probe: IrisTemplate, top: int = 5, max_shift: int = P.MAX_SHIFT, exhaustive: bool | None = None
    ) -> list[Candidate]:
        """Best ``top`` candidates (lowest rotation-compensated HD_norm first).

        Large galleries are searched in two stages: a coarse pass over every row (the exact distance
        on half the code words, every ``COARSE_SHIFT_STEP``-th shift), then an exact re-scoring of
        the ``SEARCH_SHORTLIST`` best rows over all words and shifts. A genuine match, whose
        distance is far below the impostor mass, survives the coarse pass; the benchmark measures
        the agreement with the exhaustive search. ``exhaustive=True`` forces the exact scan.
        """
        n = len(self._keys)
        if n == 0:
            return []
        probes, shifts = probe_rows(probe, max_shift)
        rows = self._rows[:n]
        if exhaustive is None:
            exhaustive = n <= 4 * P.SEARCH_SHORTLIST
        if exhaustive:
            idx = np.arange(n)
        else:
            coarse = _kernel.scan_coarse(rows, np.ascontiguousarray(probes[:: P.COARSE_SHIFT_STEP]))
            idx = np.argpartition(coarse, P.SEARCH_SHORTLIST - 1)[: P.SEARCH_SHORTLIST]
            rows = np.ascontiguousarray(rows[idx])
        scores, best = _kernel.scan(rows, probes)
        k = min(top, scores.size)
        order = np.argpartition(scores, k - 1)[:k]
        order = order[np.argsort(scores[order], kind="stable")]
        return [Candidate(self._keys[idx[i]], float(scores[i]), int(shifts[best[i]])) for i in order]
