"""The protected 1:N indexes (``iris_index``, ``fingerprint_index``) behind the ``feed.ShardIndex`` shape that the
matcher's followed gallery keeps per program, modality and position: keyed by template id, searched by id
subset, answering (template id, score) pairs. Each shard holds its index (the shard's ``search`` is not the
index's, so it wraps rather than extends it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from carekey.biometrics.protection.fingerprint_index import ProtectedFingerprintIndex
from carekey.biometrics.protection.iris_index import ProtectedIrisIndex


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
        return [(str(c.key), c.score) for c in self.index.search(probe, top=top, among=slots)]


class IrisShard(_Shard):
    def __init__(self) -> None:
        self.index: ProtectedIrisIndex = ProtectedIrisIndex()

    def add_many(self, keys: Sequence[str], codes: Sequence[np.ndarray]) -> None:
        self.index.add(list(keys), np.asarray(codes, np.uint8).reshape(len(keys), -1))


class FingerprintShard(_Shard):
    def __init__(self, secret: bytes) -> None:
        self.index: ProtectedFingerprintIndex = ProtectedFingerprintIndex(secret)

    def add_many(self, keys: Sequence[str], codes: Sequence[np.ndarray]) -> None:
        self.index.add_many(keys, codes)
