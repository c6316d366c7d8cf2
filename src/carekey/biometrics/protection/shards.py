"""The protected 1:N indexes (``iris_index``, ``fingerprint_index``) behind the ``feed.ShardIndex`` shape that the
matcher's followed gallery keeps per program, modality and position."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from carekey.biometrics.protection.fingerprint_index import ProtectedFingerprintIndex
from carekey.biometrics.protection.iris_index import ProtectedIrisIndex


class IrisShard(ProtectedIrisIndex):
    def add_many(self, keys: Sequence[str], codes: Sequence[np.ndarray]) -> None:
        self.add(list(keys), np.concatenate([np.atleast_2d(c) for c in codes]))

    def search(
        self,
        probe: np.ndarray,
        top: int = 5,
        among: Sequence[str] | None = None,
        **kw: object,
    ) -> list[tuple[str, float]]:
        slots = None if among is None else self.slots(among)
        return [(str(c.key), c.score) for c in super().search(probe, top=top, among=slots)]


class FingerprintShard(ProtectedFingerprintIndex):
    def search(
        self,
        probe: np.ndarray,
        top: int = 5,
        among: Sequence[str] | None = None,  # type: ignore[override]
        **kw: object,
    ) -> list[tuple[str, float]]:
        slots = None if among is None else self.slots(among)
        return [(str(c.key), c.score) for c in super().search(probe, top=top, among=slots)]
