"""Unlinkability of protected templates across keys: the local D<->(s) and global D<->sys measures.

After Gomez-Barrero, Galbally, Rathgeb, Busch, "General framework to evaluate unlinkability in
biometric template protection systems", IEEE TIFS 13(6), 2018. Mated scores compare templates of the
same subject protected under two different keys, non-mated scores templates of different subjects.
With LR(s) = p(s | mated) / p(s | non-mated) and the prior ratio omega (1 here):
D<->(s) = 0 where LR(s) * omega <= 1, else 2 * LR * omega / (1 + LR * omega) - 1, and
D<->sys = integral of p(s | mated) * D<->(s) ds: 0 = fully unlinkable, 1 = fully linkable.
Densities are Gaussian kernel estimates (scipy) on a grid spanning both score sets.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import gaussian_kde

GRID = 512


def _density(scores: np.ndarray, grid: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, np.float64)
    if np.ptp(scores) == 0:  # a constant sample: a narrow bump where it sits
        scores = scores + np.random.default_rng(0).normal(0, 1e-3, scores.size)
    density = gaussian_kde(scores)(grid)
    return density / np.trapezoid(density, grid)


def local_d(mated: np.ndarray, non_mated: np.ndarray, omega: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(grid of scores, D<->(s) on it)."""
    lo, hi = min(np.min(mated), np.min(non_mated)), max(np.max(mated), np.max(non_mated))
    pad = 0.05 * (hi - lo or 1.0)
    grid = np.linspace(lo - pad, hi + pad, GRID)
    pm, pn = _density(mated, grid), _density(non_mated, grid)
    lr = pm / np.maximum(pn, 1e-300)
    d = np.where(lr * omega > 1, 2 * (lr * omega) / (1 + lr * omega) - 1, 0.0)
    return grid, d


def d_sys(mated: np.ndarray, non_mated: np.ndarray, omega: float = 1.0) -> float:
    """The global linkability measure D<->sys in [0, 1]."""
    grid, d = local_d(mated, non_mated, omega)
    return float(np.clip(np.trapezoid(_density(mated, grid) * d, grid), 0.0, 1.0))


def d_sys_floor(mated_count: int, non_mated: np.ndarray, draws: int = 5, seed: int = 0) -> float:
    """D<->sys of the estimator itself when nothing is linkable: ``mated_count`` non-mated scores posing as
    mated ones against the rest (mean of ``draws`` random splits). A small sample of mated scores alone
    yields a D<->sys above 0; a measured value near this floor means no linkage was found."""
    rng = np.random.default_rng(seed)
    non_mated = np.asarray(non_mated)
    if mated_count < 2 or non_mated.size < 2 * mated_count:
        return float("nan")
    values = []
    for _ in range(draws):
        order = rng.permutation(non_mated.size)
        values.append(d_sys(non_mated[order[:mated_count]], non_mated[order[mated_count:]]))
    return float(np.mean(values))
