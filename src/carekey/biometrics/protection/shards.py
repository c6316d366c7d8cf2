"""The protected 1:N indexes (``iris_index``, ``fingerprint_index``) behind the ``feed.ShardIndex`` shape that the
matcher's followed gallery keeps per program, modality and position: keyed by template id, searched by id
subset, answering (template id, score) pairs. Each shard holds its index (the shard's ``search`` is not the
index's, so it wraps rather than extends it).

``share`` is the part of the program's gallery this process holds: 1 in one process, 1/K on each of K Ray shards
(``ray_shards``). The pre-filters keep ``share`` of their one-process shortlist (iris: IRIS_INDEX_SHORTLIST / K
rows of stage 1; fingerprint: FP_INDEX_SHORTLIST_MIN / K at least, the same share of the shard), so K shards
together score in full about as many rows as one process, and the merged list is ranked as one process ranks
its own shortlist."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import numpy as np

from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.fingerprint_index import ProtectedFingerprintIndex
from carekey.biometrics.protection.gallery import Candidate
from carekey.biometrics.protection.iris_index import ProtectedIrisIndex


def scaled(shortlist: int, share: float) -> int:
    """A shard's part of a one-process shortlist: at least one row."""
    return max(1, math.ceil(shortlist * share))


class _Shard:
    index: ProtectedIrisIndex | ProtectedFingerprintIndex

    @property
    def nbytes(self) -> int:
        return self.index.nbytes

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, key: object) -> bool:
        return key in self.index

    def remove(self, key: str) -> None:
        self.index.remove(key)

    def search(self, probe: np.ndarray, top: int = 5, among: Sequence[str] | None = None) -> list[tuple[str, float]]:
        slots = None if among is None else self.index.slots(among)
        return [(str(c.key), c.score) for c in self._search(probe, top, slots)]

    def _search(self, probe: np.ndarray, top: int, slots: np.ndarray | None) -> list[Candidate]:
        raise NotImplementedError


class IrisShard(_Shard):
    def __init__(self, share: float = 1.0) -> None:
        self.index: ProtectedIrisIndex = ProtectedIrisIndex()
        self.shortlist = scaled(P.IRIS_INDEX_SHORTLIST, share)

    def _search(self, probe: np.ndarray, top: int, slots: np.ndarray | None) -> list[Candidate]:
        return self.index.search(probe, top=top, among=slots, shortlist=self.shortlist)

    def add_many(self, keys: Sequence[str], codes: Sequence[np.ndarray] | np.ndarray) -> None:
        self.index.add(list(keys), np.asarray(codes, np.uint8).reshape(len(keys), -1))


class FingerprintShard(_Shard):
    def __init__(self, secret: bytes, share: float = 1.0) -> None:
        self.index: ProtectedFingerprintIndex = ProtectedFingerprintIndex(secret)
        self.least = scaled(P.FP_INDEX_SHORTLIST_MIN, share)

    def _search(self, probe: np.ndarray, top: int, slots: np.ndarray | None) -> list[Candidate]:
        n = len(self.index) if slots is None else slots.size
        keep = min(n, max(self.least, round(P.FP_INDEX_SHORTLIST_SHARE * n)))
        return self.index.search(probe, top=top, shortlist=keep, among=slots)

    def add_many(self, keys: Sequence[str], codes: Sequence[np.ndarray] | np.ndarray) -> None:
        # an (n, FP_ROWS, FP_HASHES) array is n fingers' codes; the index takes it as it is (no re-stacking)
        self.index.add_many(keys, cast(Sequence[np.ndarray], codes))
