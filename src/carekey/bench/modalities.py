"""The fixed set of benchmarkable modalities.

Each modality module (``carekey.bench.fingerprint``, ``carekey.bench.iris``) provides:

- ``modality() -> AccuracyModality``: our pipeline, as used in production;
- ``baseline(name: str) -> AccuracyModality``: a reference system run in the same process
  (e.g. ``"nbis"`` = mindtct + bozorth3 for fingerprints); raise ``ValueError`` for unknown names;
- ``search_benchmark(gallery: int, queries: int, progress) -> dict``: the 1:N search report.

Modules are imported lazily so that one modality's heavy dependencies do not slow the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODALITIES = {"fingerprint": "carekey.bench.fingerprint", "iris": "carekey.bench.iris"}


def load(name: str) -> ModuleType:
    if name not in MODALITIES:
        raise ValueError(f"unknown modality {name!r}; choose one of {', '.join(MODALITIES)}")
    return importlib.import_module(MODALITIES[name])
