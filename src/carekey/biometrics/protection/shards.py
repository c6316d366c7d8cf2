"""The protected 1:N indexes (``iris_index``, ``fingerprint_index``) behind the ``feed.ShardIndex`` shape that the
matcher's followed gallery keeps per program, modality and position: keyed by template id, searched by id
subset, answering (template id, score) pairs. Each shard holds its index (the shard's ``search`` is not the
index's, so it wraps rather than extends it).

``share`` is the part of the program's gallery this process holds: 1 in one process, 1/K on each of K Ray shards
(``ray_shards``). Each pre-filter keeps its share of the one-process shortlist plus a margin (``scaled``): K shards
together score in full a little more than one process, and hold every row the one-process shortlist would have
held unless one shard's part of it is more than four standard deviations above its mean. Before the margin, a
shard kept exactly 1/K: on 1 of 20 queries over 5,000 fingers on 4 shards, the best finger was one the shard had
cut (top-1 agreement with one process 0.95, ``bench/results/matcher/README.md``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import numpy as np

from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.fingerprint_index import ProtectedFingerprintIndex, shortlist_of
from carekey.biometrics.protection.gallery import Candidate
from carekey.biometrics.protection.iris_index import ProtectedIrisIndex

MARGIN_SD = 4.0  # standard deviations of a shard's part of the one-process shortlist kept above its mean


def scaled(shortlist: int, share: float) -> int:
    """Rows a shard keeps of a one-process shortlist of ``shortlist`` rows. Templates go to shards by a hash of
    their id, so the number of the one-process shortlist's rows a shard holds is binomial (``shortlist``,
    ``share``): the shard keeps its mean plus four standard deviations (a normal tail of 3e-5 that it holds more),
    at least one row, at most the whole shortlist."""
    if share >= 1:
        return max(1, shortlist)
    mean = shortlist * share
    return max(1, min(shortlist, math.ceil(mean + MARGIN_SD * math.sqrt(mean * (1 - share)))))


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
        self.share = share

    def _search(self, probe: np.ndarray, top: int, slots: np.ndarray | None) -> list[Candidate]:
        n = len(self.index) if slots is None else slots.size
        return self.index.search(probe, top=top, shortlist=shard_shortlist(n, self.share), among=slots)

    def add_many(self, keys: Sequence[str], codes: Sequence[np.ndarray] | np.ndarray) -> None:
        # an (n, FP_ROWS, FP_HASHES) array is n fingers' codes; the index takes it as it is (no re-stacking)
        self.index.add_many(keys, cast(Sequence[np.ndarray], codes))


def shard_shortlist(n: int, share: float) -> int:
    """Fingers a shard holding ``n`` of them (``share`` of the gallery, ~n / share fingers) scores in full: its
    ``scaled`` part of the one-process shortlist of that gallery."""
    return min(n, scaled(shortlist_of(round(n / share)), share))
