"""Gallery material for the fingerprint 1:N benchmark.

Real part: FVC2002 DB1_B and DB2_B. Impression 1 of each of their 20 fingers is enrolled; the
queries are other impressions (2..8) of those fingers.

Synthetic part (non-mated by construction): "chimera" templates built only from DB3_B and DB4_B
minutiae, fingers never enrolled nor queried. Each chimera takes the minutiae of one source
impression on one side of a random line through its centre and those of an impression of another
finger on the other side, mirrors the result half of the time, rotates it by a random angle,
jitters every minutia (2 px, 3 direction units) and drops 10 % of them; its cylinders are computed
from scratch. Locally they look like real prints, globally like no enrolled finger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from carekey.bench.fingerprint_data import sensor_dpi
from carekey.biometrics.fingerprint import api
from carekey.biometrics.fingerprint.minutiae import ANGLE_UNITS, Minutiae
from carekey.biometrics.fingerprint.templates import FingerprintTemplate
from carekey.errors import CarekeyError

ENROLLED_DBS = ("DB1_B", "DB2_B")
SOURCE_DBS = ("DB3_B", "DB4_B")


def load_real(root: Path, track: Callable[[Iterable[Any], str, int], Iterable[Any]]) -> dict[str, FingerprintTemplate]:
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: FVC2002 data not found (expected ../shared/data beside the project)")
    files = sorted(p for db in ENROLLED_DBS + SOURCE_DBS for p in (root / db).glob("*.tif"))
    out = {}
    for path in track(files, "extract real", len(files)):
        try:
            out[f"{path.parent.name}/{path.stem}"] = api.extract(path.read_bytes(), dpi=sensor_dpi(path), min_nfiq2=0)
        except CarekeyError:
            continue
    return out


def split(real: dict[str, FingerprintTemplate], queries: int):
    """(enrolled {finger: template}, probes [(finger, template)], chimera sources [(finger, template)])."""
    enrolled, candidates, sources = {}, [], []
    for name, template in real.items():
        db, stem = name.split("/")
        finger, impression = stem.rsplit("_", 1)
        key = f"{db}/{finger}"
        if db in SOURCE_DBS:
            sources.append((key, template))
        elif impression == "1":
            enrolled[key] = template
        else:
            candidates.append((key, template))
    candidates = [c for c in candidates if c[0] in enrolled]
    rng = np.random.default_rng(2002)
    picks = rng.choice(len(candidates), size=min(queries, len(candidates)), replace=False)
    return enrolled, [candidates[i] for i in sorted(picks)], sources


def chimera(sources: list[tuple[str, FingerprintTemplate]], rng: np.random.Generator) -> FingerprintTemplate:
    i = int(rng.integers(len(sources)))
    j = int(rng.integers(len(sources)))
    while sources[j][0] == sources[i][0]:
        j = int(rng.integers(len(sources)))
    a, b = sources[i][1].minutiae, sources[j][1].minutiae
    pa, pb = _points(a), _points(b)
    ca, cb = pa[:, :2].mean(axis=0), pb[:, :2].mean(axis=0)
    normal = np.array([np.cos(phi := rng.uniform(0, np.pi)), np.sin(phi)])
    side_a = (pa[:, :2] - ca) @ normal >= 0
    side_b = (pb[:, :2] - cb) @ normal < 0
    pb = pb.copy()
    pb[:, :2] += ca - cb
    pts = np.concatenate([pa[side_a], pb[side_b]])
    if rng.random() < 0.5:  # mirror: x -> -x, direction theta -> pi - theta (counter-clockwise units)
        pts[:, 0] = 2 * ca[0] - pts[:, 0]
        pts[:, 2] = (ANGLE_UNITS / 2 - pts[:, 2]) % ANGLE_UNITS
    rot = rng.uniform(-np.pi, np.pi)
    c, s = np.cos(rot), np.sin(rot)
    xy = pts[:, :2] - ca
    # image y points down, so a counter-clockwise turn seen on screen is (x, y) -> (c x + s y, -s x + c y)
    pts[:, 0], pts[:, 1] = ca[0] + c * xy[:, 0] + s * xy[:, 1], ca[1] - s * xy[:, 0] + c * xy[:, 1]
    pts[:, 2] = (pts[:, 2] + rot * ANGLE_UNITS / (2 * np.pi)) % ANGLE_UNITS
    pts[:, :2] += rng.normal(0, 2.0, size=(len(pts), 2))
    pts[:, 2] = (pts[:, 2] + rng.normal(0, 3.0, size=len(pts))) % ANGLE_UNITS
    pts = pts[rng.random(len(pts)) >= 0.1]
    pts[:, :2] -= pts[:, :2].min(axis=0) - 20
    w, h = (pts[:, :2].max(axis=0) + 20).astype(int)
    m = Minutiae.from_arrays(
        np.round(pts[:, 0]), np.round(pts[:, 1]), np.round(pts[:, 2]) % ANGLE_UNITS, pts[:, 3], pts[:, 4], w, h
    )
    return FingerprintTemplate.from_minutiae(m)


def _points(m: Minutiae) -> np.ndarray:
    return np.column_stack([m.x, m.y, m.angle, m.kind, m.quality]).astype(np.float64)
