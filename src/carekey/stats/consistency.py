"""Stage 2 of a hierarchical release (``carekey.stats.hierarchy``): from noisy counts to a consistent tree.
Weighted least squares under the sum constraints, then top-down non-negative integers by projection and
controlled rounding (the method and its sources are in the ``hierarchy`` docstring). Post-processing only: it
reads the noisy measurements, never the records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from carekey.stats.tree import Level, Node

if TYPE_CHECKING:
    from carekey.stats.hierarchy import Measurement


def constraints(nodes: Sequence[Node]) -> np.ndarray:
    """Rows of A with A x = 0: total - sum(districts); district - sum(its sexes); district - sum(its ages)."""
    index = {n: i for i, n in enumerate(nodes)}
    rows = []
    total = index[Node(Level.TOTAL)]
    districts = [n for n in nodes if n.level is Level.DISTRICT]
    row = np.zeros(len(nodes))
    row[total] = 1
    for d in districts:
        row[index[d]] = -1
    rows.append(row)
    for d in districts:
        for child_level in (Level.DISTRICT_SEX, Level.DISTRICT_AGE):
            row = np.zeros(len(nodes))
            row[index[d]] = 1
            for n in nodes:
                if n.level is child_level and n.district == d.district:
                    row[index[n]] = -1
            rows.append(row)
    return np.array(rows)


def least_squares(m: Measurement) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares under the tree's sum constraints: (estimates nodes x outcomes, std error per node)."""
    a = constraints(m.nodes)
    v = m.variance
    av = a * v  # A V
    gain = np.linalg.solve(av @ a.T, av)  # (A V A^T)^-1 A V
    est = m.noisy - gain.T @ (a @ m.noisy)
    cov_diag = v - np.einsum("ij,ij->j", av, gain)  # diag(V - V A^T (A V A^T)^-1 A V)
    return est, np.sqrt(np.maximum(cov_diag, 0.0))


def project_children(values: np.ndarray, weights: np.ndarray, parent: float) -> np.ndarray:
    """argmin sum (x - values)^2 / weights  s.t.  x >= 0, sum x = parent (parent >= 0): x = max(0, v + lam w)."""
    if parent <= 0:
        return np.zeros_like(values)
    lo, hi = float(np.min(-values / weights)), float(np.max((parent - values) / weights))
    for _ in range(64):
        lam = (lo + hi) / 2
        if np.maximum(values + lam * weights, 0).sum() < parent:
            lo = lam
        else:
            hi = lam
    x = np.maximum(values + hi * weights, 0)
    return x * (parent / x.sum()) if x.sum() > 0 else np.full_like(values, parent / len(values))


def controlled_round(values: np.ndarray, total: int) -> np.ndarray:
    """Integers >= floor(values) summing to ``total``: floors, then one more to the largest fractional parts."""
    floors = np.floor(values + 1e-9).astype(int)
    missing = total - int(floors.sum())
    if missing > 0:
        order = np.argsort(-(values - floors), kind="stable")
        floors[order[:missing]] += 1
    elif missing < 0:  # only from float error on an already integral vector
        order = np.argsort(values - floors, kind="stable")
        for i in order[:-missing]:
            floors[i] -= 1 if floors[i] > 0 else 0
    return floors


def top_down(nodes: Sequence[Node], est: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Non-negative integers, children summing to their parent, closest to ``est`` (per outcome column)."""
    index = {n: i for i, n in enumerate(nodes)}
    out = np.zeros(est.shape, dtype=int)
    t = index[Node(Level.TOTAL)]
    out[t] = np.maximum(np.rint(est[t]), 0).astype(int)
    districts = [index[n] for n in nodes if n.level is Level.DISTRICT]
    groups = [(t, districts)] + [
        (index[d], [index[n] for n in nodes if n.level is lvl and n.district == d.district])
        for d in nodes
        if d.level is Level.DISTRICT
        for lvl in (Level.DISTRICT_SEX, Level.DISTRICT_AGE)
    ]
    for parent, children in groups:  # parents come before their children in this order
        w = variance[children]
        for o in range(est.shape[1]):
            x = project_children(est[children, o], w, float(out[parent, o]))
            out[children, o] = controlled_round(x, int(out[parent, o]))
    return out
