"""The two modalities as seen by the protection benchmark: unprotected and protected comparisons,
the pre-image attack turned back into an unprotected template, and 1:N search on both forms.

Extraction and the unprotected comparison are those of ``bench accuracy`` (``carekey.bench.fingerprint``
and ``carekey.bench.iris`` modalities: NFIQ2 gate off, sensor dpi by image size), so the "unprotected"
column of both reports is the same system on the same templates."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from carekey.bench import fingerprint as fp_bench
from carekey.bench import inversion
from carekey.bench import iris as iris_bench
from carekey.biometrics.fingerprint import api as fp_api
from carekey.biometrics.fingerprint import parameters as FP
from carekey.biometrics.iris import api as iris_api
from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import iris as piris
from carekey.biometrics.protection.fingerprint_index import ProtectedFingerprintIndex
from carekey.biometrics.protection.iris_index import ProtectedIrisIndex


def _median_ms(fn, probes) -> float:
    times = []
    for p in probes:
        t0 = time.perf_counter()
        fn(p)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


class FingerprintCase:
    name = "fingerprint"

    def __init__(self) -> None:
        self.base = fp_bench.modality()

    def extract(self, path: Path) -> Any:
        return self.base.extract(path)

    def unprotected(self, a: Any, b: Any) -> float:
        return self.base.compare(a, b)

    def enrolled(self, t: Any, secret: bytes) -> np.ndarray:
        return pfp.protect(t, secret)

    probe = enrolled

    def protected(self, probe: np.ndarray, enrolled: np.ndarray) -> float:
        return pfp.compare(probe, enrolled)

    def attack(self, t: Any, secret: bytes) -> Any:
        """Pre-image of every cylinder's IoM code, binarized; the attacker is *given* the minutiae
        positions (not stored in the protected template) and full validity masks: an upper bound."""
        key = pfp.key_for(secret)
        codes = key.hash(pfp.cylinder_vectors(t.bits, t.masks))  # unshuffled: rows line up with t.xyt
        x = inversion.preimage(key, codes)
        bits = np.packbits(x > 0, axis=1, bitorder="little").view("<u8")
        masks = np.repeat(_disk_mask()[None, :], len(x), axis=0)
        return dataclasses.replace(t, bits=np.ascontiguousarray(bits), masks=masks)

    def search_ms(self, templates: list[Any], secret: bytes) -> tuple[float, float]:
        index = fp_api.FingerprintIndex(fingers=1)
        for k, t in enumerate(templates):
            index.add(k, [t])
        protected = ProtectedFingerprintIndex(secret)
        for k, t in enumerate(templates):
            protected.add(k, pfp.protect(t, secret))
        probes = templates[: min(20, len(templates))]
        unprot = _median_ms(lambda p: index.search([p]), probes)
        prot = _median_ms(lambda p: protected.search(p), [pfp.protect(t, secret) for t in probes])
        return unprot, prot


def _disk_mask() -> np.ndarray:
    ns = FP.MCC_NS
    c = np.arange(ns) + 0.5 - ns / 2
    disk = (c[:, None] ** 2 + c[None, :] ** 2).ravel() <= (ns / 2) ** 2
    return np.packbits(disk, bitorder="little").view("<u8")


class IrisCase:
    name = "iris"

    def __init__(self) -> None:
        self.base = iris_bench.modality()

    def extract(self, path: Path) -> Any:
        return self.base.extract(path)

    def unprotected(self, a: Any, b: Any) -> float:
        return self.base.compare(a, b)

    def enrolled(self, t: Any, secret: bytes) -> np.ndarray:
        return piris.protect(t, secret)

    def probe(self, t: Any, secret: bytes) -> np.ndarray:
        return piris.protect_probe(t, secret)

    def protected(self, probe: np.ndarray, enrolled: np.ndarray) -> float:
        return piris.compare(probe, enrolled)

    def attack(self, t: Any, secret: bytes) -> Any:
        """Pre-image of the enrolled IoM code, binarized into a full-mask iris code."""
        key = piris.key_for(secret)
        x = inversion.preimage(key, piris.protect(t, secret)[None, :])[0]
        return iris_api.IrisTemplate.from_bits(x > 0, np.ones(x.size, bool))

    def search_ms(self, templates: list[Any], secret: bytes) -> tuple[float, float]:
        gallery = iris_api.IrisGallery()
        for k, t in enumerate(templates):
            gallery.add(str(k), t)
        protected = ProtectedIrisIndex()
        protected.add(list(range(len(templates))), np.stack([piris.protect(t, secret) for t in templates]))
        probes = templates[: min(20, len(templates))]
        unprot = _median_ms(lambda p: gallery.search(p), probes)
        prot = _median_ms(lambda p: protected.search(p), [piris.protect_probe(t, secret) for t in probes])
        return unprot, prot


class Case(Protocol):
    """What the protection benchmark measures of one modality (``FingerprintCase``, ``IrisCase``)."""

    def extract(self, path: Path) -> Any: ...
    def unprotected(self, a: Any, b: Any) -> float: ...
    def enrolled(self, t: Any, secret: bytes) -> np.ndarray: ...
    def probe(self, t: Any, secret: bytes) -> np.ndarray: ...
    def protected(self, probe: np.ndarray, enrolled: np.ndarray) -> float: ...
    def attack(self, t: Any, secret: bytes) -> Any: ...
    def search_ms(self, templates: list[Any], secret: bytes) -> tuple[float, float]: ...


CASES: dict[str, Callable[[], Case]] = {"fingerprint": FingerprintCase, "iris": IrisCase}
